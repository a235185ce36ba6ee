import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { mtlsStrict } from './strict.js';

function peerAuthentication(ns: string, name: string, spec: unknown, apiVersion = 'security.istio.io/v1'): KubeObject {
  return { apiVersion, kind: 'PeerAuthentication', metadata: { name, namespace: ns }, spec };
}

const selector = { matchLabels: { 'app.kubernetes.io/name': 'records-api' } };
const meshStrict = peerAuthentication('istio-system', 'default', { mtls: { mode: 'STRICT' } });
const meshPermissive = peerAuthentication('istio-system', 'default', { mtls: { mode: 'PERMISSIVE' } });
const meshUnset = peerAuthentication('istio-system', 'default', {});
const namespaceStrict = peerAuthentication('billing', 'default', { mtls: { mode: 'STRICT' } });
const namespacePermissive = peerAuthentication('billing', 'default', { mtls: { mode: 'PERMISSIVE' } });
const namespaceUnset = peerAuthentication('billing', 'default', { mtls: { mode: 'UNSET' } });

function admit(object: KubeObject, cluster: KubeObject[] = [], operation: 'CREATE' | 'UPDATE' = 'CREATE') {
  return makeContext({ object, operation, cluster: [phiNamespace('billing'), ...cluster] });
}

describe('mtls-strict messages', () => {
  it('names an explicit PERMISSIVE mode', () => {
    expect(mtlsStrict.check!(admit(namespacePermissive, [meshStrict]))).toEqual([
      'PeerAuthentication billing/default sets spec.mtls.mode to PERMISSIVE; namespace billing holds PHI and ' +
        'requires STRICT. Set spec.mtls.mode to STRICT.',
    ]);
  });

  it('names the mesh-wide origin', () => {
    expect(mtlsStrict.check!(admit(namespaceUnset, [meshPermissive]))).toEqual([
      'PeerAuthentication billing/default leaves spec.mtls.mode UNSET, so it inherits PERMISSIVE from the ' +
        'mesh-wide PeerAuthentication istio-system/default; namespace billing holds PHI and requires STRICT. ' +
        'Set spec.mtls.mode to STRICT.',
    ]);
  });

  it("names Istio's default origin", () => {
    expect(mtlsStrict.check!(admit(namespaceUnset))).toEqual([
      "PeerAuthentication billing/default leaves spec.mtls.mode UNSET, so it inherits Istio's default, " +
        'PERMISSIVE, because no mesh-wide PeerAuthentication exists in istio-system; namespace billing holds PHI ' +
        'and requires STRICT. Set spec.mtls.mode to STRICT.',
    ]);
  });

  it('names a mesh-wide UNSET read as PERMISSIVE', () => {
    expect(mtlsStrict.check!(admit(namespaceUnset, [meshUnset]))[0]).toContain(
      'inherits PERMISSIVE from the mesh-wide PeerAuthentication istio-system/default, whose UNSET mode Istio reads as PERMISSIVE;',
    );
  });

  it('names the namespace-wide origin', () => {
    const workload = peerAuthentication('billing', 'records-api', { selector });
    expect(mtlsStrict.check!(admit(workload, [meshStrict, namespacePermissive]))[0]).toContain(
      'PeerAuthentication billing/records-api leaves spec.mtls.mode UNSET, so it inherits PERMISSIVE from the namespace-wide PeerAuthentication billing/default;',
    );
  });

  it('names the port', () => {
    const workload = peerAuthentication('billing', 'records-api', { selector, mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } });
    expect(mtlsStrict.check!(admit(workload))).toEqual([
      'PeerAuthentication billing/records-api sets spec.portLevelMtls[9090].mode to DISABLE; namespace billing ' +
        'holds PHI and requires STRICT on every port. Set spec.portLevelMtls[9090].mode to STRICT or remove the port entry.',
    ]);
  });

  it('names the DELETE fallback mode', () => {
    const ctx = makeContext({ oldObject: namespaceStrict, operation: 'DELETE', cluster: [phiNamespace('billing'), meshPermissive, namespaceStrict] });
    expect(mtlsStrict.check!(ctx)).toEqual([
      'PeerAuthentication billing/default is the STRICT namespace-wide policy of namespace billing, which holds ' +
        'PHI; deleting it would make the namespace inherit PERMISSIVE from the mesh-wide PeerAuthentication ' +
        'istio-system/default. Keep this policy, or make the mesh-wide PeerAuthentication in istio-system STRICT ' +
        'before deleting it.',
    ]);
  });
});

describe('mtls-strict CREATE and UPDATE', () => {
  it.each([
    { name: 'namespace-wide DISABLE', object: peerAuthentication('billing', 'default', { mtls: { mode: 'DISABLE' } }), cluster: [meshStrict], found: 1 },
    { name: 'namespace-wide PERMISSIVE under a STRICT mesh', object: namespacePermissive, cluster: [meshStrict], found: 1 },
    { name: 'namespace-wide STRICT', object: namespaceStrict, cluster: [meshPermissive], found: 0 },
    { name: 'namespace-wide UNSET under a STRICT mesh', object: namespaceUnset, cluster: [meshStrict], found: 0 },
    { name: 'namespace-wide UNSET under a PERMISSIVE mesh', object: namespaceUnset, cluster: [meshPermissive], found: 1 },
    { name: 'namespace-wide UNSET under a DISABLE mesh', object: namespaceUnset, cluster: [peerAuthentication('istio-system', 'default', { mtls: { mode: 'DISABLE' } })], found: 1 },
    { name: 'namespace-wide UNSET under a mesh-wide UNSET', object: namespaceUnset, cluster: [meshUnset], found: 1 },
    { name: 'namespace-wide UNSET with no mesh-wide policy', object: namespaceUnset, cluster: [], found: 1 },
    { name: 'no mtls under a STRICT mesh', object: peerAuthentication('billing', 'default', {}), cluster: [meshStrict], found: 0 },
    { name: 'no mtls under a PERMISSIVE mesh', object: peerAuthentication('billing', 'default', {}), cluster: [meshPermissive], found: 1 },
    { name: 'no spec under a PERMISSIVE mesh', object: peerAuthentication('billing', 'default', undefined), cluster: [meshPermissive], found: 1 },
    { name: 'empty mtls under a PERMISSIVE mesh', object: peerAuthentication('billing', 'default', { mtls: {} }), cluster: [meshPermissive], found: 1 },
    { name: 'empty matchLabels is namespace-wide', object: peerAuthentication('billing', 'default', { selector: { matchLabels: {} } }), cluster: [meshPermissive, namespaceStrict], found: 1 },
    { name: 'workload UNSET under a STRICT namespace', object: peerAuthentication('billing', 'records-api', { selector }), cluster: [meshPermissive, namespaceStrict], found: 0 },
    { name: 'workload UNSET under a PERMISSIVE namespace', object: peerAuthentication('billing', 'records-api', { selector }), cluster: [meshStrict, namespacePermissive], found: 1 },
    { name: 'workload UNSET under UNSET namespace and STRICT mesh', object: peerAuthentication('billing', 'records-api', { selector }), cluster: [meshStrict, namespaceUnset], found: 0 },
    { name: 'workload UNSET under UNSET namespace and PERMISSIVE mesh', object: peerAuthentication('billing', 'records-api', { selector }), cluster: [meshPermissive, namespaceUnset], found: 1 },
    { name: 'workload UNSET with no namespace policy and STRICT mesh', object: peerAuthentication('billing', 'records-api', { selector }), cluster: [meshStrict], found: 0 },
    { name: 'workload STRICT under a PERMISSIVE namespace', object: peerAuthentication('billing', 'records-api', { selector, mtls: { mode: 'STRICT' } }), cluster: [namespacePermissive], found: 0 },
    { name: 'workload PERMISSIVE under a STRICT namespace', object: peerAuthentication('billing', 'records-api', { selector, mtls: { mode: 'PERMISSIVE' } }), cluster: [meshStrict, namespaceStrict], found: 1 },
  ])('$name', ({ object, cluster, found }) => {
    expect(mtlsStrict.check!(admit(object, cluster))).toHaveLength(found);
  });

  it.each([
    { name: 'port DISABLE on a STRICT workload', mode: 'STRICT', ports: { '8080': { mode: 'DISABLE' } }, found: 1 },
    { name: 'port PERMISSIVE on a STRICT workload', mode: 'STRICT', ports: { '8080': { mode: 'PERMISSIVE' } }, found: 1 },
    { name: 'two open ports', mode: 'STRICT', ports: { '8080': { mode: 'DISABLE' }, '9090': { mode: 'PERMISSIVE' } }, found: 2 },
    { name: 'port UNSET on a STRICT workload', mode: 'STRICT', ports: { '8080': { mode: 'UNSET' } }, found: 0 },
    { name: 'port without mode on a STRICT workload', mode: 'STRICT', ports: { '8080': {} }, found: 0 },
    { name: 'port STRICT on a STRICT workload', mode: 'STRICT', ports: { '8080': { mode: 'STRICT' } }, found: 0 },
    { name: 'port STRICT on a PERMISSIVE workload', mode: 'PERMISSIVE', ports: { '8080': { mode: 'STRICT' } }, found: 1 },
    { name: 'port UNSET on a workload inheriting PERMISSIVE, reported once', mode: 'UNSET', ports: { '8080': { mode: 'UNSET' } }, found: 1 },
    { name: 'port DISABLE on a workload inheriting PERMISSIVE', mode: 'UNSET', ports: { '8080': { mode: 'DISABLE' } }, found: 2 },
  ])('$name', ({ mode, ports, found }) => {
    const object = peerAuthentication('billing', 'records-api', { selector, mtls: { mode }, portLevelMtls: ports });
    expect(mtlsStrict.check!(admit(object, [meshPermissive]))).toHaveLength(found);
  });

  it('skips its own older version', () => {
    const workload = peerAuthentication('billing', 'default', { selector });
    const messages = mtlsStrict.check!(admit(workload, [meshPermissive, namespaceStrict], 'UPDATE'));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('inherits PERMISSIVE from the mesh-wide PeerAuthentication istio-system/default;');
  });

  it('judges UNSET UPDATE by the mesh', () => {
    const ctx = makeContext({ object: namespaceUnset, oldObject: namespaceStrict, operation: 'UPDATE', cluster: [phiNamespace('billing'), meshPermissive, namespaceStrict] });
    expect(mtlsStrict.check!(ctx)).toHaveLength(1);
  });

  it.each([
    { name: 'v1', apiVersion: 'security.istio.io/v1' },
    { name: 'v1beta1', apiVersion: 'security.istio.io/v1beta1' },
  ])('reads $name objects and views', ({ apiVersion }) => {
    const mesh = peerAuthentication('istio-system', 'default', { mtls: { mode: 'PERMISSIVE' } }, apiVersion);
    const object = peerAuthentication('billing', 'default', { mtls: { mode: 'UNSET' } }, apiVersion);
    const ctx = admit(object, [mesh]);
    expect(mtlsStrict.matches(ctx)).toBe(true);
    expect(mtlsStrict.check!(ctx)[0]).toContain('inherits PERMISSIVE from the mesh-wide PeerAuthentication istio-system/default;');
  });

  it.each([
    { name: 'namespace without PHI', ns: 'marketing', cluster: [namespace('marketing')] },
    { name: 'namespace the view does not know', ns: 'marketing', cluster: [] },
    { name: 'root namespace', ns: 'istio-system', cluster: [phiNamespace('istio-system')] },
  ])('ignores a PERMISSIVE policy in a $name', ({ ns, cluster }) => {
    const ctx = makeContext({ object: peerAuthentication(ns, 'default', { mtls: { mode: 'PERMISSIVE' } }), cluster });
    expect(mtlsStrict.check!(ctx)).toEqual([]);
  });

  it('uses the configured root namespace', () => {
    const mesh = peerAuthentication('istio-config', 'default', { mtls: { mode: 'STRICT' } });
    const ctx = makeContext({ object: namespaceUnset, cluster: [phiNamespace('billing'), mesh], config: { rootNamespace: 'istio-config' } });
    expect(mtlsStrict.check!(ctx)).toEqual([]);
  });

  it('reads the request namespace', () => {
    const object = { ...namespacePermissive, metadata: { name: 'default' } };
    const ctx = makeContext({ object, namespace: 'billing', cluster: [phiNamespace('billing')] });
    expect(mtlsStrict.check!(ctx)[0]).toMatch(/^PeerAuthentication billing\/default sets spec\.mtls\.mode to PERMISSIVE;/);
  });

  it('runs offline', () => {
    const ctx = makeContext({ object: namespacePermissive, stage: 'offline', cluster: [phiNamespace('billing')] });
    expect(mtlsStrict.stages).toContain('offline');
    expect(mtlsStrict.check!(ctx)).toHaveLength(1);
  });
});

describe('mtls-strict DELETE', () => {
  function remove(oldObject: KubeObject, cluster: KubeObject[], username = 'alice@example.org') {
    return makeContext({ oldObject, operation: 'DELETE', user: { username }, cluster: [phiNamespace('billing'), ...cluster] });
  }

  it.each([
    { name: 'namespace-wide STRICT under a PERMISSIVE mesh', object: namespaceStrict, cluster: [meshPermissive, namespaceStrict], found: 1 },
    { name: 'namespace-wide STRICT with no mesh-wide policy', object: namespaceStrict, cluster: [namespaceStrict], found: 1 },
    { name: 'namespace-wide STRICT the view does not hold', object: namespaceStrict, cluster: [meshUnset], found: 1 },
    { name: 'namespace-wide STRICT under a STRICT mesh', object: namespaceStrict, cluster: [meshStrict, namespaceStrict], found: 0 },
    { name: 'namespace-wide PERMISSIVE', object: namespacePermissive, cluster: [meshPermissive, namespacePermissive], found: 0 },
    { name: 'namespace-wide UNSET', object: namespaceUnset, cluster: [meshPermissive, namespaceUnset], found: 0 },
    { name: 'workload STRICT', object: peerAuthentication('billing', 'records-api', { selector, mtls: { mode: 'STRICT' } }), cluster: [meshPermissive], found: 0 },
  ])('$name', ({ object, cluster, found }) => {
    expect(mtlsStrict.check!(remove(object, cluster))).toHaveLength(found);
  });

  it('admits deleting an ignored duplicate', () => {
    const older = { ...namespaceStrict, metadata: { name: 'default', namespace: 'billing', creationTimestamp: '2026-01-05T09:00:00Z' } };
    const newer = peerAuthentication('billing', 'strict-copy', { mtls: { mode: 'STRICT' } });
    const ctx = remove(newer, [meshPermissive, older, { ...newer, metadata: { name: 'strict-copy', namespace: 'billing', creationTimestamp: '2026-03-01T09:00:00Z' } }]);
    expect(mtlsStrict.check!(ctx)).toEqual([]);
  });

  it.each([
    { name: 'namespace controller service account', username: 'system:serviceaccount:kube-system:namespace-controller' },
    { name: 'controller manager', username: 'system:kube-controller-manager' },
  ])('admits teardown by $name', ({ username }) => {
    expect(mtlsStrict.check!(remove(namespaceStrict, [meshPermissive, namespaceStrict], username))).toEqual([]);
  });

  it('ignores namespaces without PHI', () => {
    const ctx = makeContext({ oldObject: peerAuthentication('marketing', 'default', { mtls: { mode: 'STRICT' } }), operation: 'DELETE', cluster: [namespace('marketing')] });
    expect(mtlsStrict.check!(ctx)).toEqual([]);
  });

  it('raises EvaluationError without an object', () => {
    const ctx = makeContext({ operation: 'DELETE', namespace: 'billing', kind: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' }, cluster: [phiNamespace('billing')] });
    expect(() => mtlsStrict.check!(ctx)).toThrow(EvaluationError);
    expect(() => mtlsStrict.check!(ctx)).toThrow('the request carries no PeerAuthentication object');
  });
});

describe('mtls-strict input', () => {
  it.each([
    { name: 'numeric mode', spec: { mtls: { mode: 3 } }, message: 'spec.mtls.mode must be a string, found a number' },
    { name: 'unknown mode', spec: { mtls: { mode: 'BLAH' } }, message: 'spec.mtls.mode must be one of UNSET, DISABLE, PERMISSIVE or STRICT, found an unknown value' },
    { name: 'mtls as a string', spec: { mtls: 'STRICT' }, message: 'spec.mtls must be an object, found a string' },
    { name: 'spec as a list', spec: [], message: 'spec must be an object, found a list' },
    { name: 'selector as a string', spec: { selector: 'app=records-api' }, message: 'spec.selector must be an object, found a string' },
    { name: 'matchLabels value not a string', spec: { selector: { matchLabels: { app: 7 } } }, message: 'spec.selector.matchLabels["app"] must be a string, found a number' },
    { name: 'portLevelMtls as a list', spec: { selector, portLevelMtls: [{ mode: 'DISABLE' }] }, message: 'spec.portLevelMtls must be an object, found a list' },
    { name: 'port entry as a string', spec: { selector, portLevelMtls: { '8080': 'DISABLE' } }, message: 'spec.portLevelMtls[8080] must be an object, found a string' },
    { name: 'port mode not a string', spec: { selector, portLevelMtls: { '8080': { mode: false } } }, message: 'spec.portLevelMtls[8080].mode must be a string, found a boolean' },
  ])('raises EvaluationError: $name', ({ spec, message }) => {
    const ctx = admit(peerAuthentication('billing', 'records-api', spec), [meshStrict]);
    expect(() => mtlsStrict.check!(ctx)).toThrow(EvaluationError);
    expect(() => mtlsStrict.check!(ctx)).toThrow(message);
  });

  it.each([
    { name: 'v1 CREATE', object: namespaceStrict, operation: 'CREATE' as const, subResource: undefined, expected: true },
    { name: 'v1beta1 UPDATE', object: peerAuthentication('billing', 'default', {}, 'security.istio.io/v1beta1'), operation: 'UPDATE' as const, subResource: undefined, expected: true },
    { name: 'DELETE', object: namespaceStrict, operation: 'DELETE' as const, subResource: undefined, expected: true },
    { name: 'status update', object: namespaceStrict, operation: 'UPDATE' as const, subResource: 'status', expected: false },
    { name: 'AuthorizationPolicy', object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-nothing', namespace: 'billing' }, spec: {} }, operation: 'CREATE' as const, subResource: undefined, expected: false },
    { name: 'PeerAuthentication of another group', object: { ...namespaceStrict, apiVersion: 'example.org/v1' }, operation: 'CREATE' as const, subResource: undefined, expected: false },
  ])('matches $name: $expected', ({ object, operation, subResource, expected }) => {
    const ctx = makeContext({ object, oldObject: object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(mtlsStrict.matches(ctx)).toBe(expected);
  });
});
