import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { mtlsMeshWide } from './mesh-wide.js';

function peerAuthentication(ns: string, name: string, spec: unknown, apiVersion = 'security.istio.io/v1'): KubeObject {
  return { apiVersion, kind: 'PeerAuthentication', metadata: { name, namespace: ns }, spec };
}

function meshPolicy(mode: string | undefined, apiVersion?: string): KubeObject {
  return peerAuthentication('istio-system', 'default', mode === undefined ? {} : { mtls: { mode } }, apiVersion);
}

function strictIn(ns: string): KubeObject {
  return peerAuthentication(ns, 'default', { mtls: { mode: 'STRICT' } });
}

const hl7Selector = { matchLabels: { app: 'hl7-bridge' } };

function admit(object: KubeObject, cluster: KubeObject[], operation: 'CREATE' | 'UPDATE' = 'CREATE') {
  return makeContext({ object, operation, cluster });
}

function remove(oldObject: KubeObject, cluster: KubeObject[], username = 'alice@example.org') {
  return makeContext({ oldObject, operation: 'DELETE', user: { username }, cluster });
}

describe('mtls-mesh-wide messages', () => {
  it('names PERMISSIVE and the exposed namespace', () => {
    const ctx = admit(meshPolicy('PERMISSIVE'), [phiNamespace('billing'), phiNamespace('claims'), strictIn('claims')]);
    expect(mtlsMeshWide.check!(ctx)).toEqual([
      'PeerAuthentication istio-system/default is mesh-wide and sets spec.mtls.mode to PERMISSIVE, but PHI ' +
        'namespace billing has no namespace-wide STRICT PeerAuthentication of its own. Set spec.mtls.mode to ' +
        'STRICT, or first give each PHI namespace a namespace-wide PeerAuthentication with mode STRICT.',
    ]);
  });

  it('lists five sorted, counts the rest', () => {
    const names = ['radiology', 'billing', 'pharmacy', 'claims', 'lab', 'imaging', 'oncology'];
    const ctx = admit(meshPolicy(undefined), names.map((name) => phiNamespace(name)));
    expect(mtlsMeshWide.check!(ctx)).toEqual([
      'PeerAuthentication istio-system/default is mesh-wide and leaves spec.mtls.mode UNSET, which Istio reads ' +
        'as PERMISSIVE, but PHI namespaces billing, claims, imaging, lab, oncology and 2 more have no ' +
        'namespace-wide STRICT PeerAuthentication of their own. Set spec.mtls.mode to STRICT, or first give ' +
        'each PHI namespace a namespace-wide PeerAuthentication with mode STRICT.',
    ]);
  });

  it('joins a short list with and', () => {
    const ctx = admit(meshPolicy('DISABLE'), ['lab', 'billing', 'claims'].map((name) => phiNamespace(name)));
    expect(mtlsMeshWide.check!(ctx)[0]).toContain('but PHI namespaces billing, claims and lab have no namespace-wide STRICT');
  });

  it('names a selector policy in the root namespace', () => {
    const object = peerAuthentication('istio-system', 'hl7-bridge-permissive', { selector: hl7Selector, mtls: { mode: 'PERMISSIVE' } });
    expect(mtlsMeshWide.check!(admit(object, []))).toEqual([
      'PeerAuthentication istio-system/hl7-bridge-permissive sets spec.mtls.mode to PERMISSIVE with a selector in ' +
        'the root namespace istio-system. Istio ignores selector policies in the root namespace, but readers take ' +
        'this one as a mesh-wide exception to STRICT. Set its modes to STRICT, or move it to the namespace of the ' +
        'workloads it selects.',
    ]);
  });

  it('joins selector policy findings', () => {
    const object = peerAuthentication('istio-system', 'hl7-bridge', { selector: hl7Selector, portLevelMtls: { '2575': { mode: 'DISABLE' } } });
    const messages = mtlsMeshWide.check!(admit(object, []));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(
      /^PeerAuthentication istio-system\/hl7-bridge leaves spec\.mtls\.mode UNSET and sets spec\.portLevelMtls\[2575\]\.mode to DISABLE with a selector/,
    );
  });

  it('names the STRICT policy deletion', () => {
    const ctx = remove(meshPolicy('STRICT'), [phiNamespace('billing'), phiNamespace('claims'), meshPolicy('STRICT')]);
    expect(mtlsMeshWide.check!(ctx)).toEqual([
      "PeerAuthentication istio-system/default is the STRICT mesh-wide policy; deleting it leaves the mesh with Istio's " +
        'default, PERMISSIVE, and PHI namespaces billing and claims have no namespace-wide STRICT PeerAuthentication ' +
        'of their own. Keep this policy, or first give each PHI namespace a namespace-wide PeerAuthentication with ' +
        'mode STRICT.',
    ]);
  });
});

describe('mtls-mesh-wide CREATE and UPDATE', () => {
  it.each([
    { name: 'PERMISSIVE with an exposed PHI namespace', mode: 'PERMISSIVE', cluster: [phiNamespace('billing')], found: 1 },
    { name: 'DISABLE with an exposed PHI namespace', mode: 'DISABLE', cluster: [phiNamespace('billing')], found: 1 },
    { name: 'UNSET with an exposed PHI namespace', mode: 'UNSET', cluster: [phiNamespace('billing')], found: 1 },
    { name: 'no mtls with an exposed PHI namespace', mode: undefined, cluster: [phiNamespace('billing')], found: 1 },
    { name: 'PHI namespace whose own policy is UNSET', mode: 'PERMISSIVE', cluster: [phiNamespace('billing'), peerAuthentication('billing', 'default', {})], found: 1 },
    { name: 'PHI namespace whose own policy is PERMISSIVE', mode: 'PERMISSIVE', cluster: [phiNamespace('billing'), peerAuthentication('billing', 'default', { mtls: { mode: 'PERMISSIVE' } })], found: 1 },
    { name: 'PHI namespace with only a workload STRICT policy', mode: 'PERMISSIVE', cluster: [phiNamespace('billing'), peerAuthentication('billing', 'api', { selector: hl7Selector, mtls: { mode: 'STRICT' } })], found: 1 },
    { name: 'STRICT', mode: 'STRICT', cluster: [phiNamespace('billing')], found: 0 },
    { name: 'PERMISSIVE when every PHI namespace is STRICT', mode: 'PERMISSIVE', cluster: [phiNamespace('billing'), strictIn('billing'), phiNamespace('claims'), strictIn('claims')], found: 0 },
    { name: 'PERMISSIVE with no PHI namespaces', mode: 'PERMISSIVE', cluster: [namespace('marketing'), namespace('billing', { 'phi-mesh-guard.io/phi': 'false' })], found: 0 },
    { name: 'PERMISSIVE with a PHI-labelled root namespace only', mode: 'PERMISSIVE', cluster: [phiNamespace('istio-system')], found: 0 },
  ])('$name', ({ mode, cluster, found }) => {
    expect(mtlsMeshWide.check!(admit(meshPolicy(mode), cluster))).toHaveLength(found);
  });

  it('treats empty matchLabels as mesh-wide', () => {
    const object = peerAuthentication('istio-system', 'default', { selector: { matchLabels: {} }, mtls: { mode: 'PERMISSIVE' } });
    expect(mtlsMeshWide.check!(admit(object, [phiNamespace('billing')]))[0]).toMatch(/is mesh-wide and sets spec\.mtls\.mode to PERMISSIVE/);
  });

  it('judges UPDATE by new mode', () => {
    const ctx = makeContext({ object: meshPolicy('PERMISSIVE'), oldObject: meshPolicy('STRICT'), operation: 'UPDATE', cluster: [phiNamespace('billing'), meshPolicy('STRICT')] });
    expect(mtlsMeshWide.check!(ctx)).toHaveLength(1);
  });

  it.each([
    { name: 'UNSET', spec: { selector: hl7Selector }, found: 1 },
    { name: 'DISABLE', spec: { selector: hl7Selector, mtls: { mode: 'DISABLE' } }, found: 1 },
    { name: 'STRICT with a DISABLE port', spec: { selector: hl7Selector, mtls: { mode: 'STRICT' }, portLevelMtls: { '2575': { mode: 'DISABLE' } } }, found: 1 },
    { name: 'STRICT', spec: { selector: hl7Selector, mtls: { mode: 'STRICT' } }, found: 0 },
    { name: 'STRICT with a STRICT port', spec: { selector: hl7Selector, mtls: { mode: 'STRICT' }, portLevelMtls: { '2575': { mode: 'STRICT' } } }, found: 0 },
    { name: 'STRICT with an UNSET port', spec: { selector: hl7Selector, mtls: { mode: 'STRICT' }, portLevelMtls: { '2575': {} } }, found: 0 },
  ])('selector policy $name, whatever the PHI namespaces', ({ spec, found }) => {
    const object = peerAuthentication('istio-system', 'hl7-bridge', spec);
    expect(mtlsMeshWide.check!(admit(object, []))).toHaveLength(found);
    expect(mtlsMeshWide.check!(admit(object, [phiNamespace('billing'), strictIn('billing'), meshPolicy('STRICT')]))).toHaveLength(found);
  });

  it.each([
    { name: 'v1', apiVersion: 'security.istio.io/v1' },
    { name: 'v1beta1', apiVersion: 'security.istio.io/v1beta1' },
  ])('reads $name objects and views', ({ apiVersion }) => {
    const ctx = admit(meshPolicy('PERMISSIVE', apiVersion), [
      phiNamespace('billing'),
      peerAuthentication('billing', 'default', { mtls: { mode: 'STRICT' } }, apiVersion),
      phiNamespace('claims'),
    ]);
    expect(mtlsMeshWide.matches(ctx)).toBe(true);
    expect(mtlsMeshWide.check!(ctx)[0]).toContain('but PHI namespace claims has no namespace-wide STRICT');
  });

  it('ignores policies outside the root namespace', () => {
    const object = peerAuthentication('billing', 'default', { mtls: { mode: 'PERMISSIVE' } });
    expect(mtlsMeshWide.check!(admit(object, [phiNamespace('billing')]))).toEqual([]);
  });

  it('uses the configured root namespace', () => {
    const object = peerAuthentication('istio-config', 'default', { mtls: { mode: 'PERMISSIVE' } });
    const cluster = [phiNamespace('billing')];
    expect(mtlsMeshWide.check!(makeContext({ object, cluster, config: { rootNamespace: 'istio-config' } }))[0]).toMatch(/^PeerAuthentication istio-config\/default is mesh-wide/);
    expect(mtlsMeshWide.check!(makeContext({ object: meshPolicy('PERMISSIVE'), cluster, config: { rootNamespace: 'istio-config' } }))).toEqual([]);
  });

  it('reads a configured PHI label', () => {
    const config = { phiLabel: { key: 'hospital.example.org/phi', value: 'yes' } };
    const cluster = [namespace('billing', { 'hospital.example.org/phi': 'yes' }), phiNamespace('marketing')];
    const ctx = makeContext({ object: meshPolicy('PERMISSIVE'), cluster, config });
    expect(mtlsMeshWide.check!(ctx)[0]).toContain('but PHI namespace billing has');
  });

  it('runs offline', () => {
    const ctx = makeContext({ object: meshPolicy('PERMISSIVE'), stage: 'offline', cluster: [phiNamespace('billing')] });
    expect(mtlsMeshWide.stages).toContain('offline');
    expect(mtlsMeshWide.check!(ctx)).toHaveLength(1);
  });
});

describe('mtls-mesh-wide DELETE', () => {
  it.each([
    { name: 'STRICT with an exposed PHI namespace', object: meshPolicy('STRICT'), cluster: [phiNamespace('billing'), meshPolicy('STRICT')], found: 1 },
    { name: 'STRICT the view does not hold', object: meshPolicy('STRICT'), cluster: [phiNamespace('billing')], found: 1 },
    { name: 'STRICT when every PHI namespace is STRICT', object: meshPolicy('STRICT'), cluster: [phiNamespace('billing'), strictIn('billing'), meshPolicy('STRICT')], found: 0 },
    { name: 'STRICT with no PHI namespaces', object: meshPolicy('STRICT'), cluster: [namespace('marketing'), meshPolicy('STRICT')], found: 0 },
    { name: 'PERMISSIVE', object: meshPolicy('PERMISSIVE'), cluster: [phiNamespace('billing'), meshPolicy('PERMISSIVE')], found: 0 },
    { name: 'UNSET', object: meshPolicy(undefined), cluster: [phiNamespace('billing'), meshPolicy(undefined)], found: 0 },
    { name: 'selector policy', object: peerAuthentication('istio-system', 'hl7-bridge', { selector: hl7Selector, mtls: { mode: 'STRICT' } }), cluster: [phiNamespace('billing')], found: 0 },
  ])('$name', ({ object, cluster, found }) => {
    expect(mtlsMeshWide.check!(remove(object, cluster))).toHaveLength(found);
  });

  it('admits deleting an ignored duplicate', () => {
    const older = { ...meshPolicy('STRICT'), metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: '2026-01-05T09:00:00Z' } };
    const newer = { ...meshPolicy('STRICT'), metadata: { name: 'mesh-strict', namespace: 'istio-system', creationTimestamp: '2026-03-01T09:00:00Z' } };
    expect(mtlsMeshWide.check!(remove(newer, [phiNamespace('billing'), older, newer]))).toEqual([]);
  });

  it.each([
    { name: 'namespace controller service account', username: 'system:serviceaccount:kube-system:namespace-controller' },
    { name: 'controller manager', username: 'system:kube-controller-manager' },
  ])('admits teardown by $name', ({ username }) => {
    expect(mtlsMeshWide.check!(remove(meshPolicy('STRICT'), [phiNamespace('billing'), meshPolicy('STRICT')], username))).toEqual([]);
  });
});

describe('mtls-mesh-wide input', () => {
  it.each([
    { name: 'numeric mode', spec: { mtls: { mode: 1 } }, message: 'spec.mtls.mode must be a string, found a number' },
    { name: 'mtls as a list', spec: { mtls: ['STRICT'] }, message: 'spec.mtls must be an object, found a list' },
    { name: 'matchLabels as a string', spec: { selector: { matchLabels: 'app=hl7-bridge' } }, message: 'spec.selector.matchLabels must be an object, found a string' },
    { name: 'port mode not a string', spec: { selector: hl7Selector, portLevelMtls: { '2575': { mode: 0 } } }, message: 'spec.portLevelMtls[2575].mode must be a string, found a number' },
  ])('raises EvaluationError: $name', ({ spec, message }) => {
    const ctx = admit(peerAuthentication('istio-system', 'default', spec), [phiNamespace('billing')]);
    expect(() => mtlsMeshWide.check!(ctx)).toThrow(EvaluationError);
    expect(() => mtlsMeshWide.check!(ctx)).toThrow(message);
  });

  it('raises EvaluationError for a malformed deleted object', () => {
    const ctx = remove(peerAuthentication('istio-system', 'default', { mtls: { mode: true } }), [phiNamespace('billing')]);
    expect(() => mtlsMeshWide.check!(ctx)).toThrow('spec.mtls.mode must be a string, found a boolean');
  });

  it.each([
    { name: 'CREATE', operation: 'CREATE' as const, subResource: undefined, expected: true },
    { name: 'UPDATE', operation: 'UPDATE' as const, subResource: undefined, expected: true },
    { name: 'DELETE', operation: 'DELETE' as const, subResource: undefined, expected: true },
    { name: 'status update', operation: 'UPDATE' as const, subResource: 'status', expected: false },
  ])('matches $name: $expected', ({ operation, subResource, expected }) => {
    const object = meshPolicy('STRICT');
    const ctx = makeContext({ object, oldObject: object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(mtlsMeshWide.matches(ctx)).toBe(expected);
  });
});
