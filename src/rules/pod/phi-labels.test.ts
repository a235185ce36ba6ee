import { describe, expect, it } from 'vitest';
import type { KubeObject, PatchOperation } from '../../admission/types.js';
import type { Stage } from '../../engine/context.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { podPhiLabels } from './phi-labels.js';

/** Applies RFC 6902 `add` operations to a copy of `object`, unescaping RFC 6901 tokens. */
function applyPatch(object: KubeObject, operations: readonly PatchOperation[]): KubeObject {
  const result = structuredClone(object);
  for (const operation of operations) {
    if (operation.op !== 'add') {
      throw new Error(`unexpected operation ${String(operation.op)}`);
    }
    const tokens = operation.path
      .split('/')
      .slice(1)
      .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop();
    if (last === undefined) {
      throw new Error('the root cannot be replaced');
    }
    let parent: Record<string, unknown> = result;
    for (const token of tokens) {
      const child = parent[token];
      if (typeof child !== 'object' || child === null) {
        throw new Error(`${operation.path}: no object at ${token}`);
      }
      parent = child as Record<string, unknown>;
    }
    parent[last] = structuredClone(operation.value);
  }
  return result;
}

function pod(metadata?: Record<string, unknown>): KubeObject {
  const object: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    spec: { containers: [{ name: 'api', image: 'registry.example.org/billing/records-api:2.4.1' }] },
  };
  if (metadata !== undefined) {
    object.metadata = { generateName: 'records-api-7c9f5d-', ...metadata };
  }
  return object;
}

function podWithLabels(labels: Record<string, string>, annotations?: Record<string, string>): KubeObject {
  return pod(annotations === undefined ? { labels } : { labels, annotations });
}

const phi = 'phi-mesh-guard.io/phi';
const inject = 'sidecar.istio.io/inject';

function mutate(object: KubeObject, options: { cluster?: KubeObject[]; config?: Record<string, unknown>; stage?: Stage } = {}) {
  const ctx = makeContext({
    object,
    namespace: 'billing',
    stage: options.stage ?? 'mutate',
    cluster: options.cluster ?? [phiNamespace('billing', { 'istio-injection': 'enabled' })],
    config: options.config,
  });
  return podPhiLabels.mutate!(ctx);
}

describe('pod-phi-labels', () => {
  it('adds both labels with escaped paths', () => {
    expect(mutate(podWithLabels({ app: 'records-api' }))).toEqual([
      { op: 'add', path: '/metadata/labels/phi-mesh-guard.io~1phi', value: 'true' },
      { op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'true' },
    ]);
  });

  it.each([
    {
      name: 'labels beside existing ones',
      object: podWithLabels({ app: 'records-api' }),
      labels: { app: 'records-api', [phi]: 'true', [inject]: 'true' },
    },
    {
      name: 'no labels map',
      object: pod({}),
      labels: { [phi]: 'true', [inject]: 'true' },
    },
    {
      name: 'no metadata at all',
      object: pod(),
      labels: { [phi]: 'true', [inject]: 'true' },
    },
    {
      name: 'PHI label with another value',
      object: podWithLabels({ [phi]: 'false' }),
      labels: { [phi]: 'true', [inject]: 'true' },
    },
    {
      name: 'inject label "false" kept',
      object: podWithLabels({ app: 'records-api', [inject]: 'false' }),
      labels: { app: 'records-api', [inject]: 'false', [phi]: 'true' },
    },
    {
      name: 'inject label of unknown value kept',
      object: podWithLabels({ [inject]: 'False' }),
      labels: { [inject]: 'False', [phi]: 'true' },
    },
    {
      name: 'inject annotation "false" not overridden',
      object: podWithLabels({ app: 'records-api' }, { [inject]: 'false' }),
      labels: { app: 'records-api', [phi]: 'true' },
    },
    {
      name: 'inject annotation "true" gets the label',
      object: podWithLabels({ app: 'records-api' }, { [inject]: 'true' }),
      labels: { app: 'records-api', [phi]: 'true', [inject]: 'true' },
    },
    {
      name: 'ambient pod label',
      object: podWithLabels({ app: 'records-api', 'istio.io/dataplane-mode': 'ambient' }),
      labels: { app: 'records-api', 'istio.io/dataplane-mode': 'ambient', [phi]: 'true' },
    },
  ])('$name', ({ object, labels }) => {
    const patched = applyPatch(object, mutate(object));
    expect(patched.metadata?.labels).toEqual(labels);
  });

  it('adds only the PHI label in an ambient namespace', () => {
    const object = podWithLabels({ app: 'records-api' });
    const cluster = [phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' })];
    const patched = applyPatch(object, mutate(object, { cluster }));
    expect(patched.metadata?.labels).toEqual({ app: 'records-api', [phi]: 'true' });
  });

  it('creates metadata when the pod has none', () => {
    expect(mutate(pod())).toEqual([{ op: 'add', path: '/metadata', value: { labels: { [phi]: 'true', [inject]: 'true' } } }]);
  });

  it('leaves the rest of the pod untouched', () => {
    const object = podWithLabels({ app: 'records-api' }, { 'prometheus.io/scrape': 'true' });
    const patched = applyPatch(object, mutate(object));
    expect(patched.spec).toEqual(object.spec);
    expect(patched.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(patched.metadata?.generateName).toBe('records-api-7c9f5d-');
  });

  it.each([
    { name: 'labels already right', object: podWithLabels({ app: 'records-api', [phi]: 'true', [inject]: 'true' }) },
    { name: 'opt-out with PHI label', object: podWithLabels({ [phi]: 'true', [inject]: 'false' }) },
  ])('no operation for $name', ({ object }) => {
    expect(mutate(object)).toEqual([]);
  });

  it.each([
    { name: 'labels beside existing ones', object: podWithLabels({ app: 'records-api' }) },
    { name: 'no labels map', object: pod({}) },
    { name: 'no metadata', object: pod() },
  ])('reinvocation changes nothing: $name', ({ object }) => {
    const patched = applyPatch(object, mutate(object));
    expect(mutate(patched)).toEqual([]);
  });

  it('uses the configured PHI label', () => {
    const config = { phiLabel: { key: 'example.org/data-class', value: 'phi' } };
    const cluster = [namespace('billing', { 'example.org/data-class': 'phi' })];
    const object = podWithLabels({ app: 'records-api' });
    const operations = mutate(object, { config, cluster });
    expect(operations[0]).toEqual({ op: 'add', path: '/metadata/labels/example.org~1data-class', value: 'phi' });
    expect(applyPatch(object, operations).metadata?.labels).toEqual({
      app: 'records-api',
      'example.org/data-class': 'phi',
      [inject]: 'true',
    });
  });

  it('mutates the same at the offline stage', () => {
    expect(mutate(podWithLabels({}), { stage: 'offline' })).toHaveLength(2);
  });

  it.each([
    { name: 'namespace without PHI', cluster: [namespace('billing', { 'istio-injection': 'enabled' })] },
    { name: 'namespace unknown to the view', cluster: [] },
  ])('ignores $name', ({ cluster }) => {
    expect(mutate(podWithLabels({ app: 'records-api' }), { cluster })).toEqual([]);
  });

  it.each([
    { name: 'metadata a list', object: { apiVersion: 'v1', kind: 'Pod', metadata: [], spec: {} }, path: 'metadata must be an object' },
    { name: 'labels a string', object: pod({ labels: 'app=records-api' }), path: 'metadata.labels must be an object' },
    { name: 'label value a number', object: pod({ labels: { version: 2 } }), path: 'metadata.labels["version"] must be a string' },
    { name: 'annotations a list', object: pod({ annotations: ['x'] }), path: 'metadata.annotations must be an object' },
  ])('raises EvaluationError for $name', ({ object, path }) => {
    expect(() => mutate(object as KubeObject)).toThrow(EvaluationError);
    expect(() => mutate(object as KubeObject)).toThrow(path);
  });

  it.each([
    { name: 'Pod CREATE', operation: 'CREATE' as const, subResource: undefined, object: pod({}), expected: true },
    { name: 'Pod UPDATE', operation: 'UPDATE' as const, subResource: undefined, object: pod({}), expected: false },
    { name: 'ephemeral containers', operation: 'UPDATE' as const, subResource: 'ephemeralcontainers', object: pod({}), expected: false },
    {
      name: 'Deployment CREATE',
      operation: 'CREATE' as const,
      subResource: undefined,
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'records-api' }, spec: {} },
      expected: false,
    },
  ])('matches $name: $expected', ({ operation, subResource, object, expected }) => {
    const ctx = makeContext({ object, operation, namespace: 'billing', ...(subResource === undefined ? {} : { subResource }) });
    expect(podPhiLabels.matches(ctx)).toBe(expected);
  });
});
