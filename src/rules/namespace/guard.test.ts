import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { namespaceGuard } from './guard.js';

const alice = { username: 'alice@example.org', groups: ['system:authenticated', 'records-team'] };
const breakGlass = { breakGlass: { users: ['oncall@example.org'], groups: ['platform-breakglass'] } };

function update(oldObject: KubeObject, object: KubeObject, config: Record<string, unknown> = breakGlass, user = alice) {
  return makeContext({ object, oldObject, operation: 'UPDATE', user, config });
}

function remove(oldObject: KubeObject, user = alice) {
  return makeContext({ oldObject, operation: 'DELETE', user, config: breakGlass });
}

describe('namespace-guard messages', () => {
  it('names user removing PHI label', () => {
    const ctx = update(phiNamespace('billing', { 'istio-injection': 'enabled' }), namespace('billing', { 'istio-injection': 'enabled' }));
    expect(namespaceGuard.check!(ctx)).toEqual([
      'User alice@example.org removes label phi-mesh-guard.io/phi from Namespace billing, which holds PHI; removing ' +
        "or changing the PHI label is limited to the break-glass users and groups in the guard's configuration. " +
        'Ask one of them to make this change.',
    ]);
  });

  it('names user switching to dry-run', () => {
    const ctx = update(phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'enforce' }), phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' }));
    expect(namespaceGuard.check!(ctx)).toEqual([
      'User alice@example.org sets label phi-mesh-guard.io/mode to dry-run on Namespace billing, which holds PHI; ' +
        "switching a PHI namespace to dry-run is limited to the break-glass users and groups in the guard's " +
        'configuration. Ask one of them to make this change.',
    ]);
  });

  it('names user deleting PHI namespace', () => {
    expect(namespaceGuard.check!(remove(phiNamespace('billing')))).toEqual([
      'User alice@example.org deletes Namespace billing, which holds PHI; deleting a PHI namespace is limited to ' +
        "the break-glass users and groups in the guard's configuration. Ask one of them to make this change.",
    ]);
  });

  it('describes a changed PHI value', () => {
    const ctx = update(phiNamespace('billing'), namespace('billing', { 'phi-mesh-guard.io/phi': 'false' }));
    expect(namespaceGuard.check!(ctx)[0]).toMatch(/^User alice@example\.org changes label phi-mesh-guard\.io\/phi on Namespace billing, which holds PHI;/);
  });

  it('describes fallback to dry-run default', () => {
    const ctx = update(phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'enforce' }), phiNamespace('billing'), { ...breakGlass, defaultMode: 'dry-run' });
    expect(namespaceGuard.check!(ctx)[0]).toMatch(
      /^User alice@example\.org removes label phi-mesh-guard\.io\/mode from Namespace billing, which holds PHI, so it falls back to the default mode, dry-run;/,
    );
  });

  it('describes unknown mode value fallback', () => {
    const ctx = update(phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'enforce' }), phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'audit' }), {
      ...breakGlass,
      defaultMode: 'dry-run',
    });
    expect(namespaceGuard.check!(ctx)[0]).toMatch(
      /^User alice@example\.org sets label phi-mesh-guard\.io\/mode on Namespace billing, which holds PHI, to a value other than enforce or dry-run, so it falls back to the default mode, dry-run;/,
    );
  });

  it('reports label and mode changes', () => {
    const ctx = update(phiNamespace('billing'), namespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' }));
    expect(namespaceGuard.check!(ctx)).toHaveLength(2);
  });
});

describe('namespace-guard mode changes', () => {
  const mode = 'phi-mesh-guard.io/mode';
  it.each([
    { name: 'enforce to dry-run', defaultMode: 'enforce', old: 'enforce', next: 'dry-run', found: 1 },
    { name: 'absent to dry-run under enforce default', defaultMode: 'enforce', old: undefined, next: 'dry-run', found: 1 },
    { name: 'unknown value to dry-run', defaultMode: 'enforce', old: 'strict', next: 'dry-run', found: 1 },
    { name: 'enforce removed under dry-run default', defaultMode: 'dry-run', old: 'enforce', next: undefined, found: 1 },
    { name: 'absent to dry-run under dry-run default', defaultMode: 'dry-run', old: undefined, next: 'dry-run', found: 0 },
    { name: 'unknown value to dry-run under dry-run default', defaultMode: 'dry-run', old: 'strict', next: 'dry-run', found: 0 },
    { name: 'dry-run kept', defaultMode: 'enforce', old: 'dry-run', next: 'dry-run', found: 0 },
    { name: 'dry-run to enforce', defaultMode: 'enforce', old: 'dry-run', next: 'enforce', found: 0 },
    { name: 'dry-run removed under enforce default', defaultMode: 'enforce', old: 'dry-run', next: undefined, found: 0 },
    { name: 'enforce removed under enforce default', defaultMode: 'enforce', old: 'enforce', next: undefined, found: 0 },
    { name: 'unknown value under enforce default', defaultMode: 'enforce', old: 'enforce', next: 'audit', found: 0 },
  ])('$name', ({ defaultMode, old, next, found }) => {
    const oldLabels: Record<string, string> = old === undefined ? {} : { [mode]: old };
    const labels: Record<string, string> = next === undefined ? {} : { [mode]: next };
    const ctx = update(phiNamespace('billing', oldLabels), phiNamespace('billing', labels), { ...breakGlass, defaultMode });
    expect(namespaceGuard.check!(ctx)).toHaveLength(found);
  });

  it('reads a configured mode label', () => {
    const config = { ...breakGlass, modeLabelKey: 'hospital.example.org/guard-mode' };
    const ctx = update(phiNamespace('billing'), phiNamespace('billing', { 'hospital.example.org/guard-mode': 'dry-run' }), config);
    expect(namespaceGuard.check!(ctx)[0]).toMatch(/sets label hospital\.example\.org\/guard-mode to dry-run/);
  });
});

describe('namespace-guard scope', () => {
  it.each([
    { name: 'break-glass user', user: { username: 'oncall@example.org', groups: ['system:authenticated'] } },
    { name: 'break-glass group', user: { username: 'bob@example.org', groups: ['system:authenticated', 'platform-breakglass'] } },
  ])('admits every change by $name', ({ user }) => {
    const old = phiNamespace('billing');
    expect(namespaceGuard.check!(update(old, namespace('billing'), breakGlass, user))).toEqual([]);
    expect(namespaceGuard.check!(update(old, phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' }), breakGlass, user))).toEqual([]);
    expect(namespaceGuard.check!(remove(old, user))).toEqual([]);
  });

  it.each([
    { name: 'deleting a namespace without PHI', ctx: () => remove(namespace('marketing')) },
    { name: 'switching a namespace without PHI to dry-run', ctx: () => update(namespace('marketing'), namespace('marketing', { 'phi-mesh-guard.io/mode': 'dry-run' })) },
    { name: 'adding the PHI label', ctx: () => update(namespace('billing'), phiNamespace('billing')) },
    { name: 'adding the PHI label in dry-run', ctx: () => update(namespace('billing'), phiNamespace('billing', { 'phi-mesh-guard.io/mode': 'dry-run' })) },
    { name: 'changing other labels', ctx: () => update(phiNamespace('billing'), phiNamespace('billing', { 'istio-injection': 'enabled' })) },
  ])('admits $name', ({ ctx }) => {
    expect(namespaceGuard.check!(ctx())).toEqual([]);
  });

  it('reads PHI from oldObject', () => {
    const ctx = makeContext({ oldObject: phiNamespace('billing'), operation: 'DELETE', user: alice, cluster: [namespace('billing')] });
    expect(namespaceGuard.check!(ctx)).toHaveLength(1);
  });

  it('uses the view without oldObject', () => {
    const ctx = makeContext({ operation: 'DELETE', user: alice, kind: { group: '', version: 'v1', kind: 'Namespace' }, cluster: [phiNamespace('billing')] });
    const request = { ...ctx, name: 'billing' };
    expect(namespaceGuard.check!(request)).toHaveLength(1);
  });

  it('raises EvaluationError for unknown namespace', () => {
    const ctx = { ...makeContext({ operation: 'DELETE', user: alice, kind: { group: '', version: 'v1', kind: 'Namespace' } }), name: 'billing' };
    expect(() => namespaceGuard.check!(ctx)).toThrow(EvaluationError);
    expect(() => namespaceGuard.check!(ctx)).toThrow('oldObject is missing and the cluster view does not know namespace billing');
  });

  it('reads a configured PHI label', () => {
    const config = { ...breakGlass, phiLabel: { key: 'hospital.example.org/phi', value: 'yes' } };
    const ctx = update(namespace('billing', { 'hospital.example.org/phi': 'yes' }), namespace('billing'), config);
    expect(namespaceGuard.check!(ctx)[0]).toMatch(/removes label hospital\.example\.org\/phi from Namespace billing/);
  });

  it.each([
    { name: 'old labels', old: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'billing', labels: { 'phi-mesh-guard.io/phi': true } } }, next: phiNamespace('billing'), message: 'oldObject.metadata.labels["phi-mesh-guard.io/phi"] must be a string, found a boolean' },
    { name: 'new labels', old: phiNamespace('billing'), next: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'billing', labels: 'phi' } }, message: 'metadata.labels must be an object, found a string' },
  ])('raises EvaluationError for malformed $name', ({ old, next, message }) => {
    const ctx = update(old as unknown as KubeObject, next as unknown as KubeObject);
    expect(() => namespaceGuard.check!(ctx)).toThrow(EvaluationError);
    expect(() => namespaceGuard.check!(ctx)).toThrow(message);
  });

  it.each([
    { name: 'UPDATE', operation: 'UPDATE' as const, subResource: undefined, expected: true },
    { name: 'DELETE', operation: 'DELETE' as const, subResource: undefined, expected: true },
    { name: 'CREATE', operation: 'CREATE' as const, subResource: undefined, expected: false },
    { name: 'finalize update', operation: 'UPDATE' as const, subResource: 'finalize', expected: false },
  ])('matches Namespace $name: $expected', ({ operation, subResource, expected }) => {
    const object = phiNamespace('billing');
    const ctx = makeContext({ object, oldObject: object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(namespaceGuard.matches(ctx)).toBe(expected);
  });
});
