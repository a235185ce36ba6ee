import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace, type ContextOptions } from '../../../test/support/context.js';
import { authzNoWildcardAllow } from './no-wildcard-allow.js';

const fix =
  'Name the callers of spec.rules[0] in from.source by principals ' +
  '(such as "cluster.local/ns/<namespace>/sa/<service-account>"), namespaces or ipBlocks, or remove the rule.';

const frontendWeb = { source: { principals: ['cluster.local/ns/frontend/sa/web'] } };

function policy(spec: unknown, metadata: { name?: string; namespace?: string } = {}, apiVersion = 'security.istio.io/v1'): KubeObject {
  return {
    apiVersion,
    kind: 'AuthorizationPolicy',
    metadata: { name: metadata.name ?? 'records-api', namespace: metadata.namespace ?? 'billing' },
    spec,
  };
}

/** Builds an ALLOW policy for the records API with the given rules. */
function allow(rules: unknown[]): KubeObject {
  return policy({ selector: { matchLabels: { app: 'records-api' } }, action: 'ALLOW', rules });
}

function check(object: KubeObject, options: Partial<ContextOptions> = {}): string[] {
  const ctx = makeContext({ object, cluster: [phiNamespace('billing'), namespace('frontend')], ...options });
  return authzNoWildcardAllow.check!(ctx);
}

describe('authz-no-wildcard-allow', () => {
  describe('messages', () => {
    it('names the field that contains a wildcard', () => {
      const object = policy({ selector: { matchLabels: { app: 'records-api' } }, rules: [{ from: [{ source: { principals: ['*'] } }] }] }, { name: 'allow-mesh' });
      expect(check(object)).toEqual([
        'AuthorizationPolicy billing/allow-mesh allows unbounded callers: spec.rules[0].from[0].source.principals contains "*". ' +
          'Namespace billing holds PHI, so every ALLOW rule must name its callers by principal, namespace or IP block. ' +
          fix,
      ]);
    });

    it('names a to-only rule beside a bounded from-only rule', () => {
      // Rules are ORed, so splitting `from` and `to` into two rules lets anyone reach /records.
      const object = allow([{ from: [frontendWeb] }, { to: [{ operation: { methods: ['GET'], paths: ['/records/*'] } }] }]);
      expect(check(object)).toEqual([
        'AuthorizationPolicy billing/records-api allows unbounded callers: spec.rules[1] has no from, so it admits every caller. ' +
          'Namespace billing holds PHI, so every ALLOW rule must name its callers by principal, namespace or IP block. ' +
          'Name the callers of spec.rules[1] in from.source by principals ' +
          '(such as "cluster.local/ns/<namespace>/sa/<service-account>"), namespaces or ipBlocks, or remove the rule.',
      ]);
    });

    it('lists every unbounded source of one rule', () => {
      const object = allow([
        { from: [frontendWeb, { source: { namespaces: ['prod-*'] } }, { source: { notPrincipals: ['cluster.local/ns/sandbox/sa/default'] } }] },
      ]);
      expect(check(object)).toEqual([
        'AuthorizationPolicy billing/records-api allows unbounded callers: ' +
          'spec.rules[0].from[1].source.namespaces contains "prod-*", which matches more than one namespace, and ' +
          'spec.rules[0].from[2].source sets only notPrincipals, which also match callers without an mTLS identity. ' +
          'Namespace billing holds PHI, so every ALLOW rule must name its callers by principal, namespace or IP block. ' +
          fix,
      ]);
    });

    it('names PHI namespaces for a root-namespace policy', () => {
      const object = policy({ rules: [{}] }, { name: 'allow-all', namespace: 'istio-system' });
      const cluster = [namespace('istio-system'), phiNamespace('claims'), phiNamespace('billing'), namespace('frontend')];
      expect(check(object, { cluster })).toEqual([
        'AuthorizationPolicy istio-system/allow-all allows unbounded callers: spec.rules[0] has no from, so it admits every caller. ' +
          'In the root namespace istio-system the policy applies to workloads in every namespace, including PHI namespaces billing, claims, ' +
          'so every ALLOW rule must name its callers by principal, namespace or IP block. ' +
          fix,
      ]);
    });

    it('counts PHI namespaces beyond three', () => {
      const object = policy({ selector: { matchLabels: { app: 'istio-ingressgateway' } }, rules: [{}] }, { namespace: 'istio-system' });
      const cluster = ['a-phi', 'b-phi', 'c-phi', 'd-phi', 'e-phi'].map((name) => phiNamespace(name));
      expect(check(object, { cluster })[0]).toContain('including PHI namespaces a-phi, b-phi, c-phi and 2 more, so');
    });

    it('names a single PHI namespace', () => {
      const object = policy({ rules: [{}] }, { namespace: 'istio-system' });
      expect(check(object)[0]).toContain('including PHI namespace billing, so');
    });
  });

  it.each([
    { name: 'empty rule', rules: [{}], finding: 'spec.rules[0] has no from, so it admits every caller' },
    {
      name: 'to without from',
      rules: [{ to: [{ operation: { ports: ['8443'] } }] }],
      finding: 'spec.rules[0] has no from, so it admits every caller',
    },
    {
      name: 'when on source attributes only',
      rules: [{ when: [{ key: 'source.namespace', values: ['frontend'] }] }],
      finding: 'spec.rules[0] has no from, so it admits every caller',
    },
    { name: 'empty from list', rules: [{ from: [] }], finding: 'spec.rules[0].from is empty, so it admits every caller' },
    { name: 'from entry without source', rules: [{ from: [{}] }], finding: 'spec.rules[0].from[0] has no source, so it admits every caller' },
    {
      name: 'empty source',
      rules: [{ from: [{ source: {} }] }],
      finding: 'spec.rules[0].from[0].source names no principals, namespaces or IP blocks',
    },
    {
      name: 'namespace star',
      rules: [{ from: [{ source: { namespaces: ['*'] } }] }],
      finding: 'spec.rules[0].from[0].source.namespaces contains "*"',
    },
    {
      name: 'namespace suffix wildcard',
      rules: [{ from: [{ source: { namespaces: ['*-phi'] } }] }],
      finding: 'spec.rules[0].from[0].source.namespaces contains "*-phi", which matches more than one namespace',
    },
    {
      name: 'principal across namespaces',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/*'] } }] }],
      finding: 'spec.rules[0].from[0].source.principals contains "cluster.local/ns/*", which does not pin one namespace',
    },
    {
      name: 'principal namespace prefix',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/billing*'] } }] }],
      finding: 'spec.rules[0].from[0].source.principals contains "cluster.local/ns/billing*", which does not pin one namespace',
    },
    {
      name: 'principal of any namespace and trust domain',
      rules: [{ from: [{ source: { principals: ['*/ns/*'] } }] }],
      finding: 'spec.rules[0].from[0].source.principals contains "*/ns/*", which does not pin one namespace',
    },
    {
      name: 'every IPv4 address',
      rules: [{ from: [{ source: { ipBlocks: ['0.0.0.0/0'] } }] }],
      finding: 'spec.rules[0].from[0].source.ipBlocks contains "0.0.0.0/0", which covers every address',
    },
    {
      name: 'every IPv6 remote address',
      rules: [{ from: [{ source: { remoteIpBlocks: ['::/0'] } }] }],
      finding: 'spec.rules[0].from[0].source.remoteIpBlocks contains "::/0", which covers every address',
    },
    {
      name: 'any JWT',
      rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }],
      finding: 'spec.rules[0].from[0].source.requestPrincipals contains "*"',
    },
    {
      name: 'any trust domain',
      rules: [{ from: [{ source: { trustDomains: ['*'] } }] }],
      finding: 'spec.rules[0].from[0].source.trustDomains contains "*"',
    },
    {
      name: 'negative identity fields only',
      rules: [{ from: [{ source: { notNamespaces: ['sandbox'], notRequestPrincipals: ['*'] } }] }],
      finding:
        'spec.rules[0].from[0].source sets only notNamespaces, notRequestPrincipals, which also match callers without an mTLS identity',
    },
    {
      name: 'negative IP fields only',
      rules: [{ from: [{ source: { notIpBlocks: ['192.0.2.0/24'], notRemoteIpBlocks: ['198.51.100.0/24'] } }] }],
      finding: 'spec.rules[0].from[0].source sets only notIpBlocks, notRemoteIpBlocks, which also match callers without an mTLS identity',
    },
    {
      name: 'bounded source ORed with an open one',
      rules: [{ from: [frontendWeb, { source: { principals: ['*'] } }] }],
      finding: 'spec.rules[0].from[1].source.principals contains "*"',
    },
    {
      name: 'bounded to with an open from',
      rules: [{ from: [{ source: { principals: ['*'] } }], to: [{ operation: { methods: ['GET'] } }] }],
      finding: 'spec.rules[0].from[0].source.principals contains "*"',
    },
  ])('rejects $name', ({ rules, finding }) => {
    const messages = check(allow(rules));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`allows unbounded callers: ${finding}. `);
  });

  it.each([
    { name: 'no action', spec: { rules: [{}] } },
    { name: 'selector', spec: { selector: { matchLabels: { app: 'records-api' } }, rules: [{}] } },
    { name: 'targetRef', spec: { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'records' }, rules: [{}] } },
    { name: 'targetRefs', spec: { targetRefs: [{ kind: 'Service', group: '', name: 'records-api' }], rules: [{}] } },
  ])('rejects a policy attached by $name', ({ spec }) => {
    expect(check(policy(spec))).toHaveLength(1);
  });

  it('reports each unbounded rule once', () => {
    const object = allow([{}, { from: [frontendWeb] }, { from: [{ source: { principals: ['*'] } }, { source: { namespaces: ['*'] } }] }]);
    const messages = check(object);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain('spec.rules[0] has no from');
    expect(messages[1]).toContain('spec.rules[2].from[0].source.principals contains "*", and spec.rules[2].from[1].source.namespaces');
  });

  it('reads v1beta1 policies', () => {
    const object = policy({ rules: [{ from: [{ source: { principals: ['*'] } }] }] }, {}, 'security.istio.io/v1beta1');
    expect(check(object)).toHaveLength(1);
  });

  it.each([
    { name: 'exact principal', spec: { rules: [{ from: [frontendWeb] }] } },
    { name: 'star ANDed with a namespace', spec: { rules: [{ from: [{ source: { principals: ['*'], namespaces: ['billing'] } }] }] } },
    { name: 'service accounts of one namespace', spec: { rules: [{ from: [{ source: { principals: ['cluster.local/ns/billing/sa/*'] } }] }] } },
    { name: 'one account in any trust domain', spec: { rules: [{ from: [{ source: { principals: ['*/ns/billing/sa/api'] } }] }] } },
    { name: 'named namespaces', spec: { rules: [{ from: [{ source: { namespaces: ['frontend', 'claims'] } }] }] } },
    { name: 'private IP block', spec: { rules: [{ from: [{ source: { ipBlocks: ['10.20.0.0/16'] } }] }] } },
    { name: 'positive with negative field', spec: { rules: [{ from: [{ source: { namespaces: ['frontend'], notPrincipals: ['cluster.local/ns/frontend/sa/batch'] } }] }] } },
    {
      name: 'bounded source with wildcard operations',
      spec: { rules: [{ from: [frontendWeb], to: [{ operation: { hosts: ['*'], methods: ['*'], paths: ['*'] } }] }] },
    },
    { name: 'allow-nothing spec', spec: {} },
    { name: 'ALLOW without rules', spec: { action: 'ALLOW' } },
    { name: 'ALLOW with empty rules', spec: { action: 'ALLOW', rules: [] } },
    { name: 'DENY everything', spec: { action: 'DENY', rules: [{}] } },
    { name: 'DENY without mTLS', spec: { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] } },
    { name: 'AUDIT everything', spec: { action: 'AUDIT', rules: [{}] } },
    { name: 'CUSTOM provider', spec: { action: 'CUSTOM', provider: { name: 'ext-authz' }, rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] } },
    { name: 'no spec', spec: undefined },
  ])('accepts $name', ({ spec }) => {
    expect(check(policy(spec))).toEqual([]);
  });

  it.each([
    { name: 'namespace without PHI', policyNamespace: 'billing', options: { cluster: [namespace('billing')] } },
    { name: 'namespace missing from the view', policyNamespace: 'billing', options: { cluster: [] } },
    {
      name: 'root namespace without PHI namespaces',
      policyNamespace: 'istio-system',
      options: { cluster: [namespace('billing'), namespace('istio-system')] },
    },
    { name: 'istio-system when another root is configured', policyNamespace: 'istio-system', options: { config: { rootNamespace: 'istio-config' } } },
  ])('ignores $name', ({ policyNamespace, options }) => {
    expect(check(policy({ rules: [{}] }, { namespace: policyNamespace }), options)).toEqual([]);
  });

  it('uses the configured root namespace', () => {
    const object = policy({ rules: [{}] }, { namespace: 'istio-config' });
    const messages = check(object, { config: { rootNamespace: 'istio-config' } });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('In the root namespace istio-config the policy applies');
  });

  it.each([
    { name: 'spec a string', spec: 'allow-all', error: 'spec must be an object, found a string' },
    { name: 'action a number', spec: { action: 1, rules: [{}] }, error: 'spec.action must be a string, found a number' },
    { name: 'action in lower case', spec: { action: 'allow', rules: [{}] }, error: 'spec.action must be ALLOW, DENY, AUDIT or CUSTOM' },
    { name: 'rules an object', spec: { rules: { from: [] } }, error: 'spec.rules must be a list, found an object' },
    { name: 'rule null', spec: { rules: [null] }, error: 'spec.rules[0] must be an object, found null' },
    { name: 'from a string', spec: { rules: [{ from: 'frontend' }] }, error: 'spec.rules[0].from must be a list, found a string' },
    { name: 'from entry a list', spec: { rules: [{ from: [[]] }] }, error: 'spec.rules[0].from[0] must be an object, found a list' },
    { name: 'source a list', spec: { rules: [{ from: [{ source: [] }] }] }, error: 'spec.rules[0].from[0].source must be an object, found a list' },
    {
      name: 'principals a string',
      spec: { rules: [{ from: [{ source: { principals: 'cluster.local/ns/frontend/sa/web' } }] }] },
      error: 'spec.rules[0].from[0].source.principals must be a list, found a string',
    },
  ])('raises EvaluationError for $name', ({ spec, error }) => {
    expect(() => check(policy(spec))).toThrow(EvaluationError);
    expect(() => check(policy(spec))).toThrow(error);
  });

  it.each([
    { name: 'v1 CREATE', apiVersion: 'security.istio.io/v1', operation: 'CREATE', matched: true },
    { name: 'v1beta1 UPDATE', apiVersion: 'security.istio.io/v1beta1', operation: 'UPDATE', matched: true },
    { name: 'DELETE', apiVersion: 'security.istio.io/v1', operation: 'DELETE', matched: false },
    { name: 'other group', apiVersion: 'networking.istio.io/v1', operation: 'CREATE', matched: false },
  ] as const)('matches $name', ({ apiVersion, operation, matched }) => {
    const object = policy({ rules: [{}] }, {}, apiVersion);
    const ctx = makeContext(operation === 'DELETE' ? { oldObject: object, operation } : { object, operation });
    expect(authzNoWildcardAllow.matches(ctx)).toBe(matched);
  });

  it('skips the status subresource', () => {
    const ctx = makeContext({ object: policy({ rules: [{}] }), operation: 'UPDATE', subResource: 'status' });
    expect(authzNoWildcardAllow.matches(ctx)).toBe(false);
  });

  it('runs at validation and offline', () => {
    expect(authzNoWildcardAllow.stages).toEqual(['validate', 'offline']);
  });
});
