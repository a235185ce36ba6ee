import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import type { Stage } from '../../engine/context.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { podSidecarPresent } from './sidecar-present.js';

const image = 'registry.example.org/billing/records-api:2.4.1';
const proxyImage = 'docker.io/istio/proxyv2:1.28.0';

interface PodParts {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
}

function pod({ labels = {}, annotations = {}, spec = { containers: [{ name: 'api', image }] } }: PodParts = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'records-api-7c9f5d-', namespace: 'billing', labels: { app: 'records-api', ...labels }, annotations },
    spec,
  };
}

const classicSidecar = { containers: [{ name: 'api', image }, { name: 'istio-proxy', image: proxyImage }] };
const nativeSidecar = {
  initContainers: [{ name: 'istio-proxy', image: proxyImage, restartPolicy: 'Always' }],
  containers: [{ name: 'api', image }],
};

const injectionEnabled = phiNamespace('billing', { 'istio-injection': 'enabled' });
const unlabelled = phiNamespace('billing');
const ambient = phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' });

function check(
  object: KubeObject,
  options: { stage?: Stage; cluster?: KubeObject[]; config?: Record<string, unknown> } = {},
): string[] {
  const ctx = makeContext({
    object,
    stage: options.stage ?? 'validate',
    cluster: options.cluster ?? [injectionEnabled],
    config: options.config,
  });
  return podSidecarPresent.check!(ctx);
}

describe('pod-sidecar-present at validation', () => {
  it('names a pod without the proxy', () => {
    expect(check(pod(), { cluster: [unlabelled] })).toEqual([
      'Pod billing/records-api-7c9f5d- has no istio-proxy container or native sidecar (an init container named ' +
        'istio-proxy with restartPolicy: Always) after all mutating webhooks ran; namespace billing holds PHI and ' +
        'its pods must run the Istio sidecar. Label namespace billing istio-injection=enabled (or istio.io/rev), ' +
        'or label it istio.io/dataplane-mode=ambient.',
    ]);
  });

  it('names a pod the namespace selected', () => {
    expect(check(pod({ labels: { 'sidecar.istio.io/inject': 'true' } }))).toEqual([
      'Pod billing/records-api-7c9f5d- has no istio-proxy container or native sidecar after all mutating webhooks ' +
        'ran, although namespace billing is labelled for injection; namespace billing holds PHI and its pods must ' +
        "run the Istio sidecar. Check that Istio's injector webhook is installed and reachable, and that the pod " +
        'does not set sidecar.istio.io/inject: "false".',
    ]);
  });

  it('names an uninjected pod that requested injection', () => {
    expect(check(pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), { cluster: [unlabelled] })).toEqual([
      'Pod billing/records-api-7c9f5d- carries label sidecar.istio.io/inject: "true" but has no istio-proxy ' +
        'container or native sidecar after all mutating webhooks ran; namespace billing holds PHI and its pods must ' +
        "run the Istio sidecar. Istio's injector did not run for this pod, or ran before the label was added. Label " +
        "namespace billing istio-injection=enabled (or istio.io/rev) and check that Istio's injector webhook is " +
        'installed and reachable.',
    ]);
  });

  it.each([
    { name: 'revision namespace', cluster: [phiNamespace('billing', { 'istio.io/rev': 'stable' })], prefix: 'although namespace billing is labelled' },
    { name: 'disabled revision namespace', cluster: [phiNamespace('billing', { 'istio.io/rev': 'stable', 'istio-injection': 'disabled' })], prefix: 'after all mutating webhooks ran; namespace billing holds PHI and its pods must run the Istio sidecar. Label' },
  ])('picks the message for a $name', ({ cluster, prefix }) => {
    const messages = check(pod(), { cluster });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(prefix);
  });

  it.each([
    { name: 'classic sidecar', object: pod({ spec: classicSidecar }), found: 0 },
    { name: 'native sidecar', object: pod({ spec: nativeSidecar }), found: 0 },
    {
      name: 'istio-proxy init container that runs to completion',
      object: pod({ spec: { initContainers: [{ name: 'istio-proxy', image: proxyImage }], containers: [{ name: 'api', image }] } }),
      found: 1,
    },
    {
      name: 'istio-proxy as an ephemeral container',
      object: pod({ spec: { containers: [{ name: 'api', image }], ephemeralContainers: [{ name: 'istio-proxy', image: proxyImage }] } }),
      found: 1,
    },
    {
      name: 'proxy under another name',
      object: pod({ spec: { containers: [{ name: 'api', image }, { name: 'envoy', image: proxyImage }] } }),
      found: 1,
    },
    { name: 'no proxy', object: pod(), found: 1 },
    { name: 'pod labelled ambient', object: pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), found: 0 },
  ])('$name', ({ object, found }) => {
    expect(check(object)).toHaveLength(found);
  });

  it.each([
    { name: 'pod in an ambient namespace', object: pod(), found: 0 },
    { name: 'ambient pod labelled none', object: pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), found: 1 },
    { name: 'ambient pod with a sidecar', object: pod({ labels: { 'istio.io/dataplane-mode': 'none' }, spec: classicSidecar }), found: 0 },
  ])('$name', ({ object, found }) => {
    expect(check(object, { cluster: [ambient] })).toHaveLength(found);
  });

  it('passes when the proxy is not required at validation', () => {
    expect(check(pod(), { config: { requireProxyAtValidation: false } })).toEqual([]);
  });

  it('ignores namespaces without PHI', () => {
    expect(check(pod(), { cluster: [namespace('billing')] })).toEqual([]);
  });

  it.each([
    { name: 'containers an object', spec: { containers: { name: 'api' } }, message: 'spec.containers must be a list' },
    {
      name: 'restartPolicy a number',
      spec: { initContainers: [{ name: 'istio-proxy', restartPolicy: 1 }], containers: [{ name: 'api' }] },
      message: 'spec.initContainers[0].restartPolicy must be a string, found a number',
    },
    { name: 'spec missing', spec: undefined, message: 'spec is missing' },
  ])('raises EvaluationError for $name', ({ spec, message }) => {
    const object: KubeObject = { ...pod(), spec };
    expect(() => check(object)).toThrow(EvaluationError);
    expect(() => check(object)).toThrow(message);
  });
});

describe('pod-sidecar-present offline', () => {
  it('names a namespace that disables injection', () => {
    const cluster = [phiNamespace('billing', { 'istio-injection': 'disabled', 'istio.io/rev': 'stable' })];
    expect(check(pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), { stage: 'offline', cluster })).toEqual([
      'Pod billing/records-api-7c9f5d- will not get an Istio sidecar: namespace billing is labelled ' +
        'istio-injection: disabled, which turns injection off for every pod there; namespace billing holds PHI and ' +
        'its pods must run the Istio sidecar. Set istio-injection=enabled on namespace billing.',
    ]);
  });

  it('does not print an unknown injection value', () => {
    const cluster = [phiNamespace('billing', { 'istio-injection': 'on' })];
    expect(check(pod(), { stage: 'offline', cluster })[0]).toMatch(
      /: namespace billing is labelled istio-injection with a value other than "enabled", which turns injection off/,
    );
  });

  it('names a pod that nothing selects', () => {
    expect(check(pod(), { stage: 'offline', cluster: [unlabelled] })).toEqual([
      'Pod billing/records-api-7c9f5d- will not get an Istio sidecar: namespace billing has neither ' +
        'istio-injection: enabled nor istio.io/rev, and the pod has no label sidecar.istio.io/inject: "true"; ' +
        'namespace billing holds PHI and its pods must run the Istio sidecar. Label namespace billing ' +
        'istio-injection=enabled (or istio.io/rev), or add the label sidecar.istio.io/inject: "true" to the pod.',
    ]);
  });

  it('names a pod that opts out', () => {
    expect(check(pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), { stage: 'offline' })).toEqual([
      'Pod billing/records-api-7c9f5d- will not get an Istio sidecar: it sets sidecar.istio.io/inject: "false", ' +
        "which Istio's injector obeys; namespace billing holds PHI and its pods must run the Istio sidecar. Remove " +
        "sidecar.istio.io/inject from the pod's labels and annotations.",
    ]);
  });

  const revision = phiNamespace('billing', { 'istio.io/rev': 'stable' });
  const disabled = phiNamespace('billing', { 'istio-injection': 'disabled' });

  it.each([
    { name: 'namespace injection enabled', cluster: [injectionEnabled], object: pod(), found: 0 },
    { name: 'namespace revision', cluster: [revision], object: pod(), found: 0 },
    { name: 'namespace injection with an unknown value', cluster: [phiNamespace('billing', { 'istio-injection': 'true' })], object: pod(), found: 1 },
    { name: 'namespace injection disabled', cluster: [disabled], object: pod(), found: 1 },
    { name: 'pod inject label, unlabelled namespace', cluster: [unlabelled], object: pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), found: 0 },
    { name: 'pod revision label, unlabelled namespace', cluster: [unlabelled], object: pod({ labels: { 'istio.io/rev': 'canary' } }), found: 0 },
    { name: 'pod inject annotation only', cluster: [unlabelled], object: pod({ annotations: { 'sidecar.istio.io/inject': 'true' } }), found: 1 },
    { name: 'opt-out label', cluster: [injectionEnabled], object: pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    {
      name: 'label "true" overrides annotation "false"',
      cluster: [injectionEnabled],
      object: pod({ labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'sidecar.istio.io/inject': 'false' } }),
      found: 0,
    },
    { name: 'opt-out in a revision namespace', cluster: [revision], object: pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    { name: 'manifest already injected', cluster: [unlabelled], object: pod({ spec: classicSidecar }), found: 0 },
    { name: 'manifest with a native sidecar', cluster: [disabled], object: pod({ spec: nativeSidecar }), found: 0 },
    { name: 'ambient namespace', cluster: [ambient], object: pod(), found: 0 },
    { name: 'pod labelled ambient', cluster: [unlabelled], object: pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), found: 0 },
    { name: 'namespace without PHI', cluster: [namespace('billing')], object: pod(), found: 0 },
  ])('$name', ({ cluster, object, found }) => {
    expect(check(object, { stage: 'offline', cluster })).toHaveLength(found);
  });

  it('ignores requireProxyAtValidation', () => {
    expect(check(pod(), { stage: 'offline', cluster: [unlabelled], config: { requireProxyAtValidation: false } })).toHaveLength(1);
  });
});

describe('pod-sidecar-present matches', () => {
  it.each([
    { name: 'Pod CREATE', operation: 'CREATE' as const, subResource: undefined, object: pod(), expected: true },
    { name: 'Pod UPDATE', operation: 'UPDATE' as const, subResource: undefined, object: pod(), expected: false },
    { name: 'ephemeral containers', operation: 'UPDATE' as const, subResource: 'ephemeralcontainers', object: pod(), expected: false },
    {
      name: 'Deployment CREATE',
      operation: 'CREATE' as const,
      subResource: undefined,
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'records-api', namespace: 'billing' }, spec: {} },
      expected: false,
    },
  ])('$name: $expected', ({ operation, subResource, object, expected }) => {
    const ctx = makeContext({ object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(podSidecarPresent.matches(ctx)).toBe(expected);
  });
});
