import { describe, expect, it } from 'vitest';
import type { KubeObject, PatchOperation } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { namespaceInjection } from './injection.js';

/** Applies RFC 6902 `add` operations to a copy of `object`, unescaping RFC 6901 tokens. */
function applyPatch(object: KubeObject, operations: readonly PatchOperation[]): KubeObject {
  const result = structuredClone(object);
  for (const operation of operations) {
    expect(operation.op).toBe('add');
    const tokens = operation.path
      .split('/')
      .slice(1)
      .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop();
    if (last === undefined) {
      throw new Error(`patch path ${operation.path} names the whole document`);
    }
    let parent: Record<string, unknown> = result;
    for (const token of tokens) {
      const child = parent[token];
      if (typeof child !== 'object' || child === null) {
        throw new Error(`patch path ${operation.path} has no parent at ${token}`);
      }
      parent = child as Record<string, unknown>;
    }
    parent[last] = operation.value;
  }
  return result;
}

const team = { 'app.kubernetes.io/part-of': 'patient-records' };

function create(object: KubeObject, stage: 'mutate' | 'validate' | 'offline' = 'mutate') {
  return makeContext({ object, operation: 'CREATE', stage });
}

function update(oldObject: KubeObject, object: KubeObject, stage: 'mutate' | 'validate' = 'validate') {
  return makeContext({ object, oldObject, operation: 'UPDATE', stage });
}

describe('namespace-injection check', () => {
  it('names istio-injection: disabled', () => {
    const ctx = create(phiNamespace('patient-records-hl7', { 'istio-injection': 'disabled' }));
    expect(namespaceInjection.check!(ctx)).toEqual([
      "Namespace patient-records-hl7 holds PHI and sets label istio-injection to disabled, so Istio's injector " +
        'gives its new pods no sidecar. Set istio-injection to enabled, or remove the label.',
    ]);
  });

  it('names other injection values without echoing', () => {
    const ctx = create(phiNamespace('billing', { 'istio-injection': 'true' }));
    expect(namespaceInjection.check!(ctx)).toEqual([
      'Namespace billing holds PHI and sets label istio-injection to a value other than enabled, which ' +
        "Istio's injector reads as no injection. Set istio-injection to enabled, or remove the label.",
    ]);
  });

  it('names a removed data plane label', () => {
    const ctx = update(phiNamespace('billing', { 'istio-injection': 'enabled', ...team }), phiNamespace('billing', team));
    expect(namespaceInjection.check!(ctx)).toEqual([
      'Namespace billing holds PHI, and this update removes label istio-injection, which leaves its pods outside ' +
        'the Istio mesh. Keep the label, or replace it in the same update with istio-injection: enabled, ' +
        'istio.io/rev or istio.io/dataplane-mode: ambient.',
    ]);
  });

  it.each<{ name: string; old: Record<string, string>; found: string }>([
    { name: 'both sidecar labels removed', old: { 'istio-injection': 'enabled', 'istio.io/rev': 'stable' }, found: 'removes labels istio-injection and istio.io/rev' },
    { name: 'revision label removed', old: { 'istio.io/rev': 'stable' }, found: 'removes label istio.io/rev' },
    { name: 'ambient label removed', old: { 'istio.io/dataplane-mode': 'ambient' }, found: 'removes label istio.io/dataplane-mode' },
  ])('describes $name', ({ old, found }) => {
    const ctx = update(phiNamespace('billing', old), phiNamespace('billing'));
    expect(namespaceInjection.check!(ctx)[0]).toMatch(new RegExp(`^Namespace billing holds PHI, and this update ${found}, which`));
  });

  it('describes an ambient namespace switched to none', () => {
    const ctx = update(phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' }), phiNamespace('billing', { 'istio.io/dataplane-mode': 'none' }));
    expect(namespaceInjection.check!(ctx)[0]).toMatch(/^Namespace billing holds PHI, and this update changes label istio\.io\/dataplane-mode, which/);
  });

  it.each([
    { name: 'PHI namespace with injection disabled', object: phiNamespace('billing', { 'istio-injection': 'disabled' }), found: 1 },
    { name: 'disabled beside a revision label', object: phiNamespace('billing', { 'istio-injection': 'disabled', 'istio.io/rev': 'stable' }), found: 1 },
    { name: 'disabled in an ambient namespace', object: phiNamespace('billing', { 'istio-injection': 'disabled', 'istio.io/dataplane-mode': 'ambient' }), found: 1 },
    { name: 'capitalised Enabled', object: phiNamespace('billing', { 'istio-injection': 'Enabled' }), found: 1 },
    { name: 'injection enabled', object: phiNamespace('billing', { 'istio-injection': 'enabled' }), found: 0 },
    { name: 'revision label', object: phiNamespace('billing', { 'istio.io/rev': 'stable' }), found: 0 },
    { name: 'ambient namespace', object: phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' }), found: 0 },
    { name: 'no data plane label, left to the mutation', object: phiNamespace('billing'), found: 0 },
    { name: 'namespace without PHI, injection disabled', object: namespace('marketing', { 'istio-injection': 'disabled' }), found: 0 },
    { name: 'PHI label with another value', object: namespace('billing', { 'phi-mesh-guard.io/phi': 'false', 'istio-injection': 'disabled' }), found: 0 },
    { name: 'Namespace without labels', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scratch' } }, found: 0 },
  ])('CREATE: $name', ({ object, found }) => {
    for (const stage of ['mutate', 'validate', 'offline'] as const) {
      expect(namespaceInjection.check!(create(object, stage))).toHaveLength(found);
    }
  });

  it.each<{ name: string; old: Record<string, string>; next: Record<string, string>; found: number }>([
    { name: 'injection label removed', old: { 'istio-injection': 'enabled' }, next: {}, found: 1 },
    { name: 'revision label removed', old: { 'istio.io/rev': 'stable' }, next: {}, found: 1 },
    { name: 'ambient label removed', old: { 'istio.io/dataplane-mode': 'ambient' }, next: {}, found: 1 },
    { name: 'injection switched to disabled', old: { 'istio-injection': 'enabled' }, next: { 'istio-injection': 'disabled' }, found: 1 },
    { name: 'revision upgrade from injection label', old: { 'istio-injection': 'enabled' }, next: { 'istio.io/rev': 'canary' }, found: 0 },
    { name: 'injection label dropped beside a revision', old: { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' }, next: { 'istio.io/rev': 'canary' }, found: 0 },
    { name: 'revision swapped for injection label', old: { 'istio.io/rev': 'stable' }, next: { 'istio-injection': 'enabled' }, found: 0 },
    { name: 'revision changed', old: { 'istio.io/rev': 'stable' }, next: { 'istio.io/rev': 'canary' }, found: 0 },
    { name: 'ambient to sidecar mode in one update', old: { 'istio.io/dataplane-mode': 'ambient' }, next: { 'istio-injection': 'enabled' }, found: 0 },
    { name: 'disabled label removed', old: { 'istio-injection': 'disabled' }, next: {}, found: 0 },
    { name: 'disabled label removed beside a revision', old: { 'istio-injection': 'disabled', 'istio.io/rev': 'stable' }, next: {}, found: 0 },
    { name: 'disabled switched to enabled', old: { 'istio-injection': 'disabled' }, next: { 'istio-injection': 'enabled' }, found: 0 },
    { name: 'unrelated label changed', old: { 'istio-injection': 'enabled', ...team }, next: { 'istio-injection': 'enabled' }, found: 0 },
  ])('UPDATE of a PHI namespace: $name', ({ old, next, found }) => {
    const ctx = update(phiNamespace('billing', old), phiNamespace('billing', next));
    expect(namespaceInjection.check!(ctx)).toHaveLength(found);
  });

  it('ignores removal outside PHI namespaces', () => {
    const ctx = update(namespace('marketing', { 'istio-injection': 'enabled' }), namespace('marketing'));
    expect(namespaceInjection.check!(ctx)).toEqual([]);
  });

  it('reads PHI from the object', () => {
    const ctx = makeContext({ object: phiNamespace('billing', { 'istio-injection': 'disabled' }), operation: 'CREATE', cluster: [namespace('billing')] });
    expect(namespaceInjection.check!(ctx)).toHaveLength(1);
  });

  it('rejects removal while adding PHI', () => {
    const ctx = update(namespace('billing', { 'istio-injection': 'enabled' }), phiNamespace('billing'));
    expect(namespaceInjection.check!(ctx)).toHaveLength(1);
  });

  it('reads a configured PHI label', () => {
    const object = namespace('billing', { 'hospital.example.org/phi': 'yes', 'istio-injection': 'disabled' });
    const ctx = makeContext({ object, operation: 'CREATE', config: { phiLabel: { key: 'hospital.example.org/phi', value: 'yes' } } });
    expect(namespaceInjection.check!(ctx)).toHaveLength(1);
  });
});

describe('namespace-injection mutate', () => {
  it('patches a new PHI namespace', () => {
    const object = phiNamespace('billing', team);
    const patch = namespaceInjection.mutate!(create(object));
    expect(patch).toEqual([{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }]);
    expect(applyPatch(object, patch)).toEqual(phiNamespace('billing', { ...team, 'istio-injection': 'enabled' }));
  });

  it('adds nothing the second time', () => {
    const object = phiNamespace('billing');
    const patched = applyPatch(object, namespaceInjection.mutate!(create(object)));
    expect(namespaceInjection.mutate!(create(patched))).toEqual([]);
  });

  it('patches when PHI label arrives', () => {
    const object = phiNamespace('billing', team);
    const patch = namespaceInjection.mutate!(update(namespace('billing', team), object, 'mutate'));
    expect(applyPatch(object, patch).metadata?.labels).toEqual({ ...team, 'phi-mesh-guard.io/phi': 'true', 'istio-injection': 'enabled' });
  });

  it.each([
    { name: 'injection enabled', object: phiNamespace('billing', { 'istio-injection': 'enabled' }) },
    { name: 'injection disabled, which check rejects', object: phiNamespace('billing', { 'istio-injection': 'disabled' }) },
    { name: 'revision label', object: phiNamespace('billing', { 'istio.io/rev': 'stable' }) },
    { name: 'ambient namespace', object: phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' }) },
    { name: 'namespace without PHI', object: namespace('marketing') },
    { name: 'Namespace without labels', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scratch' } } },
  ])('no patch: $name', ({ object }) => {
    expect(namespaceInjection.mutate!(create(object))).toEqual([]);
  });

  it('patches a dataplane-mode none namespace', () => {
    const object = phiNamespace('billing', { 'istio.io/dataplane-mode': 'none' });
    expect(namespaceInjection.mutate!(create(object))).toEqual([{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }]);
  });

  it.each<{ name: string; old: Record<string, string> }>([
    { name: 'injection label removed', old: { 'istio-injection': 'enabled' } },
    { name: 'revision label removed', old: { 'istio.io/rev': 'stable' } },
    { name: 'ambient label removed', old: { 'istio.io/dataplane-mode': 'ambient' } },
  ])('keeps rejected removal: $name', ({ old }) => {
    const ctx = update(phiNamespace('billing', old), phiNamespace('billing'), 'mutate');
    expect(namespaceInjection.mutate!(ctx)).toEqual([]);
    expect(namespaceInjection.check!(ctx)).toHaveLength(1);
  });

  it('patches after disabled label removal', () => {
    const object = phiNamespace('billing');
    const patch = namespaceInjection.mutate!(update(phiNamespace('billing', { 'istio-injection': 'disabled' }), object, 'mutate'));
    expect(applyPatch(object, patch).metadata?.labels?.['istio-injection']).toBe('enabled');
  });

  it('patches offline CREATEs', () => {
    expect(namespaceInjection.mutate!(create(phiNamespace('billing'), 'offline'))).toHaveLength(1);
  });
});

describe('namespace-injection input', () => {
  it.each([
    { name: 'label value not a string', object: phiNamespace('billing', { 'istio-injection': 1 as unknown as string }), message: 'metadata.labels["istio-injection"] must be a string, found a number' },
    { name: 'labels as a list', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'billing', labels: ['phi'] } }, message: 'metadata.labels must be an object, found a list' },
    { name: 'metadata as a string', object: { apiVersion: 'v1', kind: 'Namespace', metadata: 'billing' }, message: 'metadata must be an object, found a string' },
  ])('raises EvaluationError: $name', ({ object, message }) => {
    const ctx = makeContext({ object: object as KubeObject, operation: 'CREATE', stage: 'mutate', kind: { group: '', version: 'v1', kind: 'Namespace' } });
    expect(() => namespaceInjection.check!(ctx)).toThrow(EvaluationError);
    expect(() => namespaceInjection.check!(ctx)).toThrow(message);
    expect(() => namespaceInjection.mutate!(ctx)).toThrow(EvaluationError);
  });

  it('names the stored object in errors', () => {
    const oldObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'billing', labels: { 'istio-injection': true } } } as unknown as KubeObject;
    const ctx = update(oldObject, phiNamespace('billing'));
    expect(() => namespaceInjection.check!(ctx)).toThrow('oldObject.metadata.labels["istio-injection"] must be a string, found a boolean');
  });

  it.each([
    { name: 'CREATE', operation: 'CREATE' as const, subResource: undefined, expected: true },
    { name: 'UPDATE', operation: 'UPDATE' as const, subResource: undefined, expected: true },
    { name: 'DELETE', operation: 'DELETE' as const, subResource: undefined, expected: false },
    { name: 'status update', operation: 'UPDATE' as const, subResource: 'status', expected: false },
  ])('matches Namespace $name: $expected', ({ operation, subResource, expected }) => {
    const object = phiNamespace('billing');
    const ctx = makeContext({ object, oldObject: object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(namespaceInjection.matches(ctx)).toBe(expected);
  });

  it('does not match other kinds', () => {
    const ctx = makeContext({ object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'billing' } } });
    expect(namespaceInjection.matches(ctx)).toBe(false);
  });
});
