import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../admission/types.js';
import { makeContext, namespace, phiNamespace, type ContextOptions } from '../../test/support/context.js';
import type { Rule } from '../rules/rule.js';
import { EvaluationError } from '../errors.js';
import { evaluate } from './evaluate.js';
import { optionalList } from './object.js';

/** A rule that flags pods named "bad-*" and labels every pod, for exercising the engine alone. */
const fakeRule: Rule = {
  id: 'pod-host-network',
  severity: 'high',
  controls: ['164.312(e)(1)'],
  summary: 'test rule',
  stages: ['mutate', 'validate', 'offline'],
  matches: (ctx) => ctx.kind === 'Pod',
  check: (ctx) => (ctx.name.startsWith('bad-') ? [`Pod ${ctx.name} is bad.`] : []),
  mutate: () => [{ op: 'add', path: '/metadata/labels/checked', value: 'true' }],
};

const readsContainers: Rule = {
  ...fakeRule,
  id: 'pod-traffic-bypass',
  check: (ctx) => {
    optionalList((ctx.object?.spec as Record<string, unknown>).containers, 'spec.containers');
    return [];
  },
  mutate: undefined,
};

const throwsTypeError: Rule = {
  ...fakeRule,
  check: () => {
    throw new TypeError('boom');
  },
};

function pod(name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'billing', labels: {}, ...extra }, spec: { containers: [] } };
}

const now = new Date('2026-12-04T12:00:00Z');

/** Builds a context at the mutating endpoint, where the fake rule's patch is computed. */
function mutateContext(options: ContextOptions) {
  return makeContext({ stage: 'mutate', ...options });
}

describe('evaluate', () => {
  it.each([
    { name: 'enforce denies a violation', ns: phiNamespace('billing'), pod: 'bad-api', decision: 'deny', patch: 0 },
    { name: 'enforce mutates a clean pod', ns: phiNamespace('billing'), pod: 'api', decision: 'mutate', patch: 1 },
    { name: 'dry-run label turns deny into would-deny', ns: phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' }), pod: 'bad-api', decision: 'would-deny', patch: 1 },
    { name: 'dry-run label turns mutate into would-mutate', ns: phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' }), pod: 'api', decision: 'would-mutate', patch: 1 },
    { name: 'unknown mode label falls back to the default', ns: phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'audit' }), pod: 'bad-api', decision: 'deny', patch: 0 },
  ])('$name', ({ ns, pod: name, decision, patch }) => {
    const ctx = mutateContext({ object: pod(name), cluster: [ns] });
    const result = evaluate(ctx, [fakeRule], now);
    expect(result.decision).toBe(decision);
    expect(result.patch).toHaveLength(patch);
  });

  it('uses the configured default mode', () => {
    const ctx = mutateContext({ object: pod('bad-api'), cluster: [namespace('billing')], config: { defaultMode: 'dry-run' } });
    expect(evaluate(ctx, [fakeRule], now).decision).toBe('would-deny');
  });

  it('ignores a mode label in the root namespace', () => {
    const ctx = mutateContext({
      object: { ...pod('bad-api'), kind: 'Pod', metadata: { name: 'bad-api', namespace: 'istio-system' } },
      subResource: 'status',
      cluster: [namespace('istio-system', { 'phi-mesh-guard.io/mode': 'dry-run' })],
    });
    expect(evaluate(ctx, [fakeRule], now).mode).toBe('enforce');
  });

  it('uses the default mode for a Namespace whose own label says dry-run', () => {
    const ns = phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' });
    const ctx = mutateContext({ object: ns, oldObject: ns, operation: 'UPDATE', namespace: 'billing', cluster: [ns] });
    expect(evaluate(ctx, [fakeRule], now).mode).toBe('enforce');
  });

  it.each([
    { name: 'kube-system', namespace: 'kube-system', subResource: undefined, extra: {} },
    { name: 'guard namespace', namespace: 'phi-mesh-guard', subResource: undefined, extra: {} },
    { name: 'pods in istio-system', namespace: 'istio-system', subResource: undefined, extra: {} },
    { name: 'status subresource', namespace: 'billing', subResource: 'status', extra: {} },
    { name: 'eviction subresource', namespace: 'billing', subResource: 'eviction', extra: {} },
  ])('passes $name untouched', ({ namespace: ns, subResource, extra }) => {
    const object = pod('bad-api', { namespace: ns, ...extra });
    const ctx = mutateContext({ object, namespace: ns, ...(subResource ? { subResource } : {}), cluster: [phiNamespace(ns)] });
    expect(evaluate(ctx, [fakeRule], now)).toEqual({ decision: 'allow', mode: 'enforce', violations: [], patch: [] });
  });

  it('passes updates to terminating pods untouched', () => {
    const object = pod('bad-api', { deletionTimestamp: '2026-12-04T11:00:00Z' });
    const ctx = mutateContext({ object, oldObject: pod('bad-api'), operation: 'UPDATE', cluster: [phiNamespace('billing')] });
    expect(evaluate(ctx, [fakeRule], now).decision).toBe('allow');
  });

  it('evaluates the exec subresource', () => {
    const ctx = mutateContext({ object: pod('bad-api'), subResource: 'exec', operation: 'CONNECT', cluster: [phiNamespace('billing')] });
    expect(evaluate(ctx, [fakeRule], now).decision).toBe('deny');
  });

  it('computes no patch at the validating endpoint', () => {
    const ctx = makeContext({ object: pod('api'), stage: 'validate', cluster: [phiNamespace('billing')] });
    expect(evaluate(ctx, [fakeRule], now)).toEqual({ decision: 'allow', mode: 'enforce', violations: [], patch: [] });
  });

  it('runs only the rules of the stage', () => {
    const mutateOnly: Rule = { ...fakeRule, stages: ['mutate'] };
    const ctx = mutateContext({ object: pod('bad-api'), stage: 'validate', cluster: [phiNamespace('billing')] });
    expect(evaluate(ctx, [mutateOnly], now).decision).toBe('allow');
  });

  it('names the field when the object is malformed', () => {
    const object = { ...pod('api'), spec: { containers: 'api' } };
    const ctx = mutateContext({ object, cluster: [phiNamespace('billing')] });
    const result = evaluate(ctx, [readsContainers], now);
    expect(result.decision).toBe('error');
    expect(result.errorMessage).toBe('cannot evaluate Pod billing/api: spec.containers must be a list, found a string');
    expect(result.internalError).toBeUndefined();
  });

  it('reports rule bugs without details', () => {
    const ctx = mutateContext({ object: pod('api'), cluster: [phiNamespace('billing')] });
    const result = evaluate(ctx, [throwsTypeError], now);
    expect(result.decision).toBe('error');
    expect(result.errorMessage).toBe("cannot evaluate Pod billing/api: internal error in phi-mesh-guard; see the guard's log");
    expect(result.internalError).toBeInstanceOf(TypeError);
  });

  it('reports an evaluation error in dry-run without denying', () => {
    const object = { ...pod('api'), spec: { containers: 7 } };
    const ctx = mutateContext({ object, cluster: [phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' })] });
    const result = evaluate(ctx, [readsContainers], now);
    expect(result).toMatchObject({ decision: 'error', mode: 'dry-run' });
    expect(new EvaluationError('x').code).toBe('EVALUATION_FAILED');
  });
});

describe('exemptions', () => {
  const exemption = {
    rule: 'pod-host-network',
    kind: 'Pod',
    namespace: 'billing',
    name: 'bad-gateway',
    reason: 'Public ingress gateway accepts every caller.',
  };

  it.each([
    { name: 'name match admits', exemptions: [exemption], decision: 'mutate', exempted: true },
    { name: 'expiry today still admits', exemptions: [{ ...exemption, expires: '2026-12-04' }], decision: 'mutate', exempted: true },
    { name: 'expired exemption no longer applies', exemptions: [{ ...exemption, expires: '2026-12-03' }], decision: 'deny', exempted: false },
    { name: 'other rule does not apply', exemptions: [{ ...exemption, rule: 'mtls-strict' }], decision: 'deny', exempted: false },
    { name: 'other kind does not apply', exemptions: [{ ...exemption, kind: 'Deployment' }], decision: 'deny', exempted: false },
    { name: 'other namespace does not apply', exemptions: [{ ...exemption, namespace: 'claims' }], decision: 'deny', exempted: false },
    {
      name: 'selector match admits',
      exemptions: [{ rule: exemption.rule, kind: 'Pod', namespace: 'billing', selector: { matchLabels: { app: 'gateway' } }, reason: 'gateway' }],
      decision: 'mutate',
      exempted: true,
    },
    {
      name: 'selector mismatch does not apply',
      exemptions: [{ rule: exemption.rule, kind: 'Pod', namespace: 'billing', selector: { matchLabels: { app: 'api' } }, reason: 'api' }],
      decision: 'deny',
      exempted: false,
    },
  ])('$name', ({ exemptions, decision, exempted }) => {
    const ctx = mutateContext({ object: pod('bad-gateway', { labels: { app: 'gateway' } }), cluster: [phiNamespace('billing')], config: { exemptions } });
    const result = evaluate(ctx, [fakeRule], now);
    expect(result.decision).toBe(decision);
    expect(result.violations).toHaveLength(1);
    expect(result.violations[0]!.exemption !== undefined).toBe(exempted);
  });

  it('records the exemption reason and expiry', () => {
    const ctx = mutateContext({
      object: pod('bad-gateway'),
      cluster: [phiNamespace('billing')],
      config: { exemptions: [{ ...exemption, expires: '2027-06-30' }] },
    });
    expect(evaluate(ctx, [fakeRule], now).violations[0]).toEqual({
      rule: 'pod-host-network',
      message: 'Pod bad-gateway is bad.',
      controls: ['164.312(e)(1)'],
      exemption: { reason: 'Public ingress gateway accepts every caller.', expires: '2027-06-30' },
    });
  });
});
