import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace, type ContextOptions } from '../../../test/support/context.js';
import { drMtlsRequired } from './mtls-required.js';

function destinationRule(
  spec: unknown,
  metadata: { name?: string; namespace?: string } = {},
  apiVersion = 'networking.istio.io/v1',
): KubeObject {
  return {
    apiVersion,
    kind: 'DestinationRule',
    metadata: { name: metadata.name ?? 'records-db', namespace: metadata.namespace ?? 'billing' },
    spec,
  };
}

/** Builds the records database rule in billing with the given traffic policy. */
function recordsDb(trafficPolicy: unknown): KubeObject {
  return destinationRule({ host: 'records-db', trafficPolicy });
}

function check(object: KubeObject, options: Partial<ContextOptions> = {}): string[] {
  const ctx = makeContext({ object, cluster: [phiNamespace('billing'), namespace('frontend'), namespace('istio-system')], ...options });
  return drMtlsRequired.check!(ctx);
}

const postgresPort = { port: { number: 5432 }, tls: { mode: 'DISABLE' } };

describe('dr-mtls-required', () => {
  describe('messages', () => {
    it('names the port of a port-level DISABLE', () => {
      expect(check(recordsDb({ portLevelSettings: [postgresPort] }))).toEqual([
        'DestinationRule billing/records-db for host records-db sets spec.trafficPolicy.portLevelSettings[0] (port 5432).tls.mode ' +
          'to DISABLE. The host reaches PHI namespace billing, where traffic requires Istio mTLS. ' +
          'Set spec.trafficPolicy.portLevelSettings[0] (port 5432).tls.mode to ISTIO_MUTUAL, ' +
          "or remove spec.trafficPolicy.portLevelSettings[0] (port 5432).tls so that Istio's automatic mTLS applies.",
      ]);
    });

    it('reads a tls block without mode as DISABLE', () => {
      expect(check(recordsDb({ tls: { sni: 'records-db.billing.svc.cluster.local' } }))).toEqual([
        'DestinationRule billing/records-db for host records-db sets spec.trafficPolicy.tls without a mode, ' +
          'which Istio reads as DISABLE. The host reaches PHI namespace billing, where traffic requires Istio mTLS. ' +
          "Set spec.trafficPolicy.tls.mode to ISTIO_MUTUAL, or remove spec.trafficPolicy.tls so that Istio's automatic mTLS applies.",
      ]);
    });

    it('explains SIMPLE on a subset', () => {
      const object = destinationRule({
        host: 'records-api.billing.svc.cluster.local',
        subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { tls: { mode: 'SIMPLE' } } }],
      }, { name: 'records-api', namespace: 'frontend' });
      expect(check(object)).toEqual([
        'DestinationRule frontend/records-api for host records-api.billing.svc.cluster.local ' +
          'sets spec.subsets[1] (subset v2).trafficPolicy.tls.mode to SIMPLE, ' +
          'which replaces Istio mTLS with TLS that presents no client certificate. ' +
          'The host reaches PHI namespace billing, where traffic requires Istio mTLS. ' +
          'Set spec.subsets[1] (subset v2).trafficPolicy.tls.mode to ISTIO_MUTUAL, ' +
          "or remove spec.subsets[1] (subset v2).trafficPolicy.tls so that Istio's automatic mTLS applies.",
      ]);
    });

    it('explains MUTUAL on a subset port', () => {
      const object = destinationRule({
        host: 'records-db.billing.svc',
        subsets: [
          {
            name: 'primary',
            labels: { role: 'primary' },
            trafficPolicy: {
              portLevelSettings: [
                {
                  port: { number: 5432 },
                  tls: { mode: 'MUTUAL', clientCertificate: '/etc/certs/client.pem', privateKey: '/etc/certs/key.pem' },
                },
              ],
            },
          },
        ],
      });
      expect(check(object)).toEqual([
        'DestinationRule billing/records-db for host records-db.billing.svc ' +
          'sets spec.subsets[0] (subset primary).trafficPolicy.portLevelSettings[0] (port 5432).tls.mode ' +
          'to MUTUAL, which replaces Istio mTLS with certificates that the rule supplies. ' +
          'The host reaches PHI namespace billing, where traffic requires Istio mTLS. ' +
          'Set spec.subsets[0] (subset primary).trafficPolicy.portLevelSettings[0] (port 5432).tls.mode to ISTIO_MUTUAL, ' +
          "or remove spec.subsets[0] (subset primary).trafficPolicy.portLevelSettings[0] (port 5432).tls so that Istio's automatic mTLS applies.",
      ]);
    });

    it('names PHI namespaces for a mesh-wide rule', () => {
      const object = destinationRule({ host: '*.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } }, {
        name: 'default',
        namespace: 'istio-system',
      });
      const cluster = [namespace('istio-system'), phiNamespace('claims'), phiNamespace('billing'), namespace('frontend')];
      expect(check(object, { cluster })).toEqual([
        'DestinationRule istio-system/default for host *.svc.cluster.local sets spec.trafficPolicy.tls.mode to DISABLE. ' +
          'The host reaches every namespace, including PHI namespaces billing, claims, where traffic requires Istio mTLS. ' +
          "Set spec.trafficPolicy.tls.mode to ISTIO_MUTUAL, or remove spec.trafficPolicy.tls so that Istio's automatic mTLS applies.",
      ]);
    });
  });

  it('accepts the mesh-wide rule when no namespace holds PHI', () => {
    const object = destinationRule({ host: '*.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } }, {
      name: 'default',
      namespace: 'istio-system',
    });
    expect(check(object, { cluster: [namespace('istio-system'), namespace('billing'), namespace('frontend')] })).toEqual([]);
  });

  it('counts PHI namespaces beyond three', () => {
    const object = destinationRule({ host: '*', trafficPolicy: { tls: {} } }, { namespace: 'istio-system' });
    const cluster = ['a-phi', 'b-phi', 'c-phi', 'd-phi'].map((name) => phiNamespace(name));
    expect(check(object, { cluster })[0]).toContain('every namespace, including PHI namespaces a-phi, b-phi, c-phi and 1 more, where');
  });

  it('names a single PHI namespace reached by a wildcard', () => {
    const object = destinationRule({ host: '*.local', trafficPolicy: { tls: {} } }, { namespace: 'istio-system' });
    expect(check(object)[0]).toContain('every namespace, including PHI namespace billing, where');
  });

  it.each([
    { name: 'top-level DISABLE', trafficPolicy: { tls: { mode: 'DISABLE' } }, found: ['spec.trafficPolicy.tls.mode to DISABLE'] },
    { name: 'top-level empty tls', trafficPolicy: { tls: {} }, found: ['spec.trafficPolicy.tls without a mode'] },
    { name: 'top-level SIMPLE', trafficPolicy: { tls: { mode: 'SIMPLE' } }, found: ['spec.trafficPolicy.tls.mode to SIMPLE'] },
    {
      name: 'top-level MUTUAL',
      trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'records-db-client' } },
      found: ['spec.trafficPolicy.tls.mode to MUTUAL'],
    },
    {
      name: 'port DISABLE under top-level ISTIO_MUTUAL',
      trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, portLevelSettings: [{ port: { number: 9090 } }, postgresPort] },
      found: ['spec.trafficPolicy.portLevelSettings[1] (port 5432).tls.mode to DISABLE'],
    },
    {
      name: 'top-level DISABLE and port without tls',
      trafficPolicy: { tls: { mode: 'DISABLE' }, portLevelSettings: [{ port: { number: 5432 }, connectionPool: { tcp: { maxConnections: 100 } } }] },
      found: ['spec.trafficPolicy.tls.mode to DISABLE'],
    },
    {
      name: 'port entry without a port number',
      trafficPolicy: { portLevelSettings: [{ tls: { mode: 'DISABLE' } }] },
      found: ['spec.trafficPolicy.portLevelSettings[0].tls.mode to DISABLE'],
    },
    {
      name: 'every level',
      trafficPolicy: { tls: { mode: 'DISABLE' }, portLevelSettings: [postgresPort, { port: { number: 8080 }, tls: {} }] },
      found: ['spec.trafficPolicy.tls.mode to DISABLE', 'spec.trafficPolicy.portLevelSettings[0] (port 5432)', 'spec.trafficPolicy.portLevelSettings[1] (port 8080)'],
    },
  ])('rejects $name', ({ trafficPolicy, found }) => {
    const messages = check(recordsDb(trafficPolicy));
    expect(messages).toHaveLength(found.length);
    found.forEach((text, index) => {
      expect(messages[index]).toContain(`DestinationRule billing/records-db for host records-db sets ${text}`);
    });
  });

  it('walks every subset', () => {
    const object = destinationRule({
      host: 'records-db',
      trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } },
      subsets: [
        { name: 'primary', labels: { role: 'primary' }, trafficPolicy: { tls: { mode: 'DISABLE' } } },
        { name: 'replica', labels: { role: 'replica' }, trafficPolicy: { portLevelSettings: [postgresPort] } },
        { name: 'archive', labels: { role: 'archive' } },
      ],
    });
    const messages = check(object);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain('sets spec.subsets[0] (subset primary).trafficPolicy.tls.mode to DISABLE');
    expect(messages[1]).toContain('sets spec.subsets[1] (subset replica).trafficPolicy.portLevelSettings[0] (port 5432).tls.mode to DISABLE');
  });

  it.each([
    { name: 'v1beta1', apiVersion: 'networking.istio.io/v1beta1' },
    { name: 'v1alpha3', apiVersion: 'networking.istio.io/v1alpha3' },
  ])('reads $name rules', ({ apiVersion }) => {
    const object = destinationRule({ host: 'records-db', trafficPolicy: { tls: { mode: 'DISABLE' } } }, {}, apiVersion);
    expect(check(object)).toHaveLength(1);
  });

  it.each([
    { name: 'ISTIO_MUTUAL', spec: { host: 'records-db', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } },
    { name: 'ISTIO_MUTUAL with SNI', spec: { host: 'records-db', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL', sni: 'records-db.billing.svc.cluster.local' } } } },
    { name: 'no tls block', spec: { host: 'records-db', trafficPolicy: { connectionPool: { tcp: { maxConnections: 100 } } } } },
    { name: 'no traffic policy', spec: { host: 'records-db', subsets: [{ name: 'v1', labels: { version: 'v1' } }] } },
    { name: 'port entries without tls', spec: { host: 'records-db', trafficPolicy: { portLevelSettings: [{ port: { number: 5432 }, loadBalancer: { simple: 'ROUND_ROBIN' } }] } } },
    { name: 'port-level ISTIO_MUTUAL', spec: { host: 'records-db', trafficPolicy: { portLevelSettings: [{ port: { number: 5432 }, tls: { mode: 'ISTIO_MUTUAL' } }] } } },
    { name: 'external host with SIMPLE', spec: { host: 'api.stripe.com', trafficPolicy: { tls: { mode: 'SIMPLE' } } } },
    { name: 'external wildcard with DISABLE', spec: { host: '*.stripe.com', trafficPolicy: { tls: { mode: 'DISABLE' } } } },
    { name: 'host in a namespace without PHI', spec: { host: 'web.frontend.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } } },
    { name: 'host in an unknown namespace', spec: { host: 'web.marketing.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } } },
  ])('accepts $name', ({ spec }) => {
    expect(check(destinationRule(spec))).toEqual([]);
  });

  it('resolves a short name in the rule namespace', () => {
    const object = destinationRule({ host: 'web', trafficPolicy: { tls: { mode: 'DISABLE' } } }, { name: 'web', namespace: 'frontend' });
    expect(check(object)).toEqual([]);
    const inBilling = destinationRule({ host: 'web', trafficPolicy: { tls: { mode: 'DISABLE' } } }, { name: 'web', namespace: 'billing' });
    expect(check(inBilling)).toHaveLength(1);
  });

  it('checks a rule in another namespace for a PHI host', () => {
    const object = destinationRule({ host: 'records-db.billing', trafficPolicy: { tls: { mode: 'DISABLE' } } }, { namespace: 'frontend' });
    expect(check(object)[0]).toContain('DestinationRule frontend/records-db for host records-db.billing sets spec.trafficPolicy.tls.mode to DISABLE.');
  });

  it('uses the configured cluster domain', () => {
    const object = destinationRule({ host: '*.corp.example', trafficPolicy: { tls: { mode: 'DISABLE' } } }, { namespace: 'istio-system' });
    expect(check(object, { config: { clusterDomain: 'corp.example' } })).toHaveLength(1);
    expect(check(object)).toEqual([]);
  });

  it.each([
    { name: 'spec missing', spec: undefined, error: 'spec.host is missing' },
    { name: 'host missing', spec: { trafficPolicy: { tls: { mode: 'DISABLE' } } }, error: 'spec.host is missing' },
    { name: 'host a list', spec: { host: ['records-db'] }, error: 'spec.host must be a string, found a list' },
    { name: 'traffic policy a string', spec: { host: 'records-db', trafficPolicy: 'DISABLE' }, error: 'spec.trafficPolicy must be an object, found a string' },
    { name: 'tls a string', spec: { host: 'records-db', trafficPolicy: { tls: 'DISABLE' } }, error: 'spec.trafficPolicy.tls must be an object, found a string' },
    { name: 'mode a boolean', spec: { host: 'records-db', trafficPolicy: { tls: { mode: false } } }, error: 'spec.trafficPolicy.tls.mode must be a string, found a boolean' },
    {
      name: 'unknown mode',
      spec: { host: 'records-db', trafficPolicy: { tls: { mode: 'disable' } } },
      error: 'spec.trafficPolicy.tls.mode must be DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL',
    },
    {
      name: 'port settings an object',
      spec: { host: 'records-db', trafficPolicy: { portLevelSettings: { 5432: { tls: { mode: 'DISABLE' } } } } },
      error: 'spec.trafficPolicy.portLevelSettings must be a list, found an object',
    },
    {
      name: 'port entry null',
      spec: { host: 'records-db', trafficPolicy: { portLevelSettings: [null] } },
      error: 'spec.trafficPolicy.portLevelSettings[0] must be an object, found null',
    },
    {
      name: 'port number a string',
      spec: { host: 'records-db', trafficPolicy: { portLevelSettings: [{ port: { number: '5432' }, tls: { mode: 'DISABLE' } }] } },
      error: 'spec.trafficPolicy.portLevelSettings[0].port.number must be a number, found a string',
    },
    { name: 'subsets an object', spec: { host: 'records-db', subsets: { name: 'v1' } }, error: 'spec.subsets must be a list, found an object' },
    { name: 'subset name a number', spec: { host: 'records-db', subsets: [{ name: 1 }] }, error: 'spec.subsets[0].name must be a string, found a number' },
    {
      name: 'subset tls a list',
      spec: { host: 'records-db', subsets: [{ name: 'v1', trafficPolicy: { tls: [] } }] },
      error: 'spec.subsets[0].trafficPolicy.tls must be an object, found a list',
    },
  ])('raises EvaluationError for $name', ({ spec, error }) => {
    expect(() => check(destinationRule(spec))).toThrow(EvaluationError);
    expect(() => check(destinationRule(spec))).toThrow(error);
  });

  it.each([
    { name: 'v1 CREATE', apiVersion: 'networking.istio.io/v1', operation: 'CREATE', matched: true },
    { name: 'v1alpha3 UPDATE', apiVersion: 'networking.istio.io/v1alpha3', operation: 'UPDATE', matched: true },
    { name: 'DELETE', apiVersion: 'networking.istio.io/v1', operation: 'DELETE', matched: false },
    { name: 'other group', apiVersion: 'security.istio.io/v1', operation: 'CREATE', matched: false },
  ] as const)('matches $name', ({ apiVersion, operation, matched }) => {
    const object = destinationRule({ host: 'records-db' }, {}, apiVersion);
    const ctx = makeContext(operation === 'DELETE' ? { oldObject: object, operation } : { object, operation });
    expect(drMtlsRequired.matches(ctx)).toBe(matched);
  });

  it('skips the status subresource', () => {
    const ctx = makeContext({ object: destinationRule({ host: 'records-db' }), operation: 'UPDATE', subResource: 'status' });
    expect(drMtlsRequired.matches(ctx)).toBe(false);
  });

  it('runs at validation and offline', () => {
    expect(drMtlsRequired.stages).toEqual(['validate', 'offline']);
  });
});
