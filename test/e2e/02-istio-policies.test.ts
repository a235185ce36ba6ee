import type { KubernetesObject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2eEnvironment, phiLabelKey } from './harness/environment.js';

const env = new E2eEnvironment();
const namespace = 'e2e-billing';

interface IstioObject extends KubernetesObject {
  spec: Record<string, unknown>;
}

function peerAuthentication(version: string, name: string, mode: string): IstioObject {
  return {
    apiVersion: `security.istio.io/${version}`,
    kind: 'PeerAuthentication',
    metadata: { name, namespace },
    spec: { selector: { matchLabels: { app: 'billing-api' } }, mtls: { mode } },
  };
}

beforeAll(async () => {
  await env.createNamespace(namespace, { [phiLabelKey]: 'true' });
  await env.waitForGuardView(namespace, 'enforce');
});

describe('PeerAuthentication in a PHI namespace', () => {
  it.each([{ version: 'v1' }, { version: 'v1beta1' }])('PERMISSIVE through $version is rejected', async ({ version }) => {
    const name = `billing-permissive-${version}`;

    const rejection = await env.client('developer').rejection(`create PeerAuthentication ${name}`, (client) =>
      client.create(peerAuthentication(version, name, 'PERMISSIVE')),
    );

    expect(rejection.code).toBe(403);
    expect(rejection.message).toBe(
      `admission webhook "istio.phi-mesh-guard.io" denied the request: [mtls-strict] PeerAuthentication ${namespace}/${name} sets ` +
        `spec.mtls.mode to PERMISSIVE; namespace ${namespace} holds PHI and requires STRICT. Set spec.mtls.mode to STRICT.`,
    );
    const [record] = await env.recordsFor({ namespace, kind: 'PeerAuthentication', name });
    expect(record).toMatchObject({ group: 'security.istio.io', version, decision: 'deny' });
  });

  it.each([{ version: 'v1' }, { version: 'v1beta1' }])('STRICT through $version is stored', async ({ version }) => {
    const name = `billing-strict-${version}`;

    await env.client('developer').create(peerAuthentication(version, name, 'STRICT'));

    const stored = await env.client('admin').read<IstioObject>({ apiVersion: `security.istio.io/${version}`, kind: 'PeerAuthentication', metadata: { name, namespace } });
    expect(stored?.spec).toMatchObject({ mtls: { mode: 'STRICT' } });
    const [record] = await env.recordsFor({ namespace, kind: 'PeerAuthentication', name });
    expect(record).toMatchObject({ version, decision: 'allow' });
  });
});

describe('AuthorizationPolicy in a PHI namespace', () => {
  const policy = (name: string, rules: unknown[]): IstioObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace },
    spec: { selector: { matchLabels: { app: 'billing-api' } }, rules },
  });

  it('with rules: [{}] is rejected', async () => {
    const rejection = await env.client('developer').rejection('create AuthorizationPolicy allow-everyone', (client) => client.create(policy('allow-everyone', [{}])));

    expect(rejection.code).toBe(403);
    expect(rejection.message).toMatch(
      /^admission webhook "istio\.phi-mesh-guard\.io" denied the request: \[authz-no-wildcard-allow\] AuthorizationPolicy e2e-billing\/allow-everyone allows unbounded callers/,
    );
    expect(await env.client('admin').read({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-everyone', namespace } })).toBeUndefined();
  });

  it('naming its callers is stored', async () => {
    const rules = [{ from: [{ source: { principals: ['cluster.local/ns/claims/sa/claims-api'] } }] }];

    await env.client('developer').create(policy('allow-claims', rules));

    const [record] = await env.recordsFor({ namespace, kind: 'AuthorizationPolicy', name: 'allow-claims' });
    expect(record).toMatchObject({ decision: 'allow' });
  });
});

describe('DestinationRule in istio-system', () => {
  const rule = (name: string, tls: Record<string, unknown>): IstioObject => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: 'istio-system' },
    spec: { host: '*.svc.cluster.local', trafficPolicy: { tls } },
  });

  it('with tls.mode DISABLE for *.svc.cluster.local is rejected', async () => {
    const rejection = await env.client('admin').rejection('create DestinationRule mesh-plaintext', (client) => client.create(rule('mesh-plaintext', { mode: 'DISABLE' })));

    expect(rejection.code).toBe(403);
    expect(rejection.message).toMatch(
      /^admission webhook "istio-system\.phi-mesh-guard\.io" denied the request: \[dr-mtls-required\] DestinationRule istio-system\/mesh-plaintext for host \*\.svc\.cluster\.local /,
    );
    expect(rejection.message).toContain(namespace);
    const [record] = await env.recordsFor({ namespace: 'istio-system', kind: 'DestinationRule', name: 'mesh-plaintext' });
    expect(record).toMatchObject({ decision: 'deny', mode: 'enforce' });
  });

  it('with tls.mode ISTIO_MUTUAL is stored', async () => {
    await env.client('admin').create(rule('mesh-mtls', { mode: 'ISTIO_MUTUAL' }));

    const [record] = await env.recordsFor({ namespace: 'istio-system', kind: 'DestinationRule', name: 'mesh-mtls' });
    expect(record).toMatchObject({ decision: 'allow' });
  });
});
