import { describe, expect, it } from 'vitest';
import type { KubeObject, Operation } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { podInjectionOptOut } from './injection-opt-out.js';

interface PodMetadata {
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

function pod({ labels = { app: 'records-api' }, annotations }: PodMetadata = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'records-api-7c9f5d-', namespace: 'billing', labels, ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'api', image: 'registry.example.org/billing/records-api:2.4.1' }] },
  } as KubeObject;
}

function deployment({ labels = { app: 'records-api' }, annotations }: PodMetadata = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'records-api', namespace: 'billing' },
    spec: {
      selector: { matchLabels: { app: 'records-api' } },
      template: {
        metadata: { labels, ...(annotations ? { annotations } : {}) },
        spec: { containers: [{ name: 'api', image: 'registry.example.org/billing/records-api:2.4.1' }] },
      },
    },
  } as KubeObject;
}

function cronJob(labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'claims-export', namespace: 'billing' },
    spec: {
      schedule: '0 2 * * *',
      jobTemplate: { spec: { template: { metadata: { labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'export' }] } } } },
    },
  };
}

const sidecarNamespace = phiNamespace('billing', { 'istio-injection': 'enabled' });
const ambientNamespace = phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' });

function check(object: KubeObject, cluster: KubeObject[] = [sidecarNamespace], operation: Operation = 'CREATE'): string[] {
  return podInjectionOptOut.check!(makeContext({ object, cluster, operation }));
}

describe('pod-injection-opt-out', () => {
  it('names the label on a Pod', () => {
    expect(check(pod({ labels: { 'sidecar.istio.io/inject': 'false' } }))).toEqual([
      'Pod billing/records-api-7c9f5d- sets label sidecar.istio.io/inject: "false" in metadata.labels; namespace ' +
        "billing holds PHI and Istio's injector skips pods with this label, so the pod would run without a " +
        'sidecar. Remove the label or set it to "true".',
    ]);
  });

  it('names the annotation in a Deployment template', () => {
    expect(check(deployment({ annotations: { 'sidecar.istio.io/inject': 'false' } }))).toEqual([
      'Deployment billing/records-api sets annotation sidecar.istio.io/inject: "false" in ' +
        'spec.template.metadata.annotations; namespace billing holds PHI and this deprecated annotation opts the ' +
        'pod out of sidecar injection. Remove the annotation.',
    ]);
  });

  it('names the ambient opt-out', () => {
    expect(check(pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), [ambientNamespace])).toEqual([
      'Pod billing/records-api-7c9f5d- sets label istio.io/dataplane-mode: none in metadata.labels; namespace ' +
        'billing holds PHI and is in ambient mode, and this label keeps ztunnel from capturing the pod, so its ' +
        'traffic leaves without mTLS. Remove the label.',
    ]);
  });

  it('reports label and annotation separately', () => {
    const messages = check(
      deployment({ labels: { 'sidecar.istio.io/inject': 'false' }, annotations: { 'sidecar.istio.io/inject': 'false' } }),
    );
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(/^Deployment billing\/records-api sets label sidecar\.istio\.io\/inject: "false" in spec\.template\.metadata\.labels;/);
    expect(messages[1]).toMatch(/^Deployment billing\/records-api sets annotation sidecar\.istio\.io\/inject: "false" in spec\.template\.metadata\.annotations;/);
  });

  it.each([
    { name: 'label "false"', object: pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    { name: 'annotation "false"', object: pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    {
      name: 'annotation "false" beside label "true"',
      object: pod({ labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'sidecar.istio.io/inject': 'false' } }),
      found: 1,
    },
    { name: 'label "true"', object: pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), found: 0 },
    { name: 'annotation "true"', object: pod({ annotations: { 'sidecar.istio.io/inject': 'true' } }), found: 0 },
    { name: 'label "False", which Istio ignores', object: pod({ labels: { 'sidecar.istio.io/inject': 'False' } }), found: 0 },
    { name: 'no inject key', object: pod(), found: 0 },
    { name: 'dataplane-mode none outside ambient', object: pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), found: 0 },
    { name: 'pod ambient label with opt-out', object: pod({ labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    { name: 'Deployment label "false"', object: deployment({ labels: { 'sidecar.istio.io/inject': 'false' } }), found: 1 },
    { name: 'CronJob label "false"', object: cronJob({ 'sidecar.istio.io/inject': 'false' }), found: 1 },
    { name: 'CronJob label "true"', object: cronJob({ 'sidecar.istio.io/inject': 'true' }), found: 0 },
  ])('sidecar namespace: $name', ({ object, found }) => {
    expect(check(object)).toHaveLength(found);
  });

  it.each([
    { name: 'dataplane-mode none', object: pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), found: 1 },
    { name: 'dataplane-mode none in a template', object: deployment({ labels: { 'istio.io/dataplane-mode': 'none' } }), found: 1 },
    { name: 'dataplane-mode ambient', object: pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), found: 0 },
    { name: 'inject label "false"', object: pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), found: 0 },
    { name: 'inject annotation "false"', object: pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), found: 0 },
    { name: 'dataplane-mode none as annotation', object: pod({ annotations: { 'istio.io/dataplane-mode': 'none' } }), found: 0 },
  ])('ambient namespace: $name', ({ object, found }) => {
    expect(check(object, [ambientNamespace])).toHaveLength(found);
  });

  it('checks workload updates', () => {
    expect(check(deployment({ labels: { 'sidecar.istio.io/inject': 'false' } }), [sidecarNamespace], 'UPDATE')).toHaveLength(1);
  });

  it('ignores namespaces without PHI', () => {
    const object = pod({ labels: { 'sidecar.istio.io/inject': 'false' } });
    expect(check(object, [namespace('billing', { 'istio-injection': 'enabled' })])).toEqual([]);
  });

  it.each([
    { name: 'label value a boolean', object: pod({ labels: { 'sidecar.istio.io/inject': false } }), message: 'metadata.labels["sidecar.istio.io/inject"] must be a string' },
    {
      name: 'template annotations a list',
      object: deployment({ annotations: ['sidecar.istio.io/inject=false'] as unknown as Record<string, unknown> }),
      message: 'spec.template.metadata.annotations must be an object',
    },
  ])('raises EvaluationError for $name', ({ object, message }) => {
    expect(() => check(object)).toThrow(EvaluationError);
    expect(() => check(object)).toThrow(message);
  });

  it.each([
    { name: 'Pod CREATE', object: pod(), operation: 'CREATE' as const, expected: true },
    { name: 'Pod UPDATE', object: pod(), operation: 'UPDATE' as const, expected: false },
    { name: 'Deployment UPDATE', object: deployment(), operation: 'UPDATE' as const, expected: true },
    { name: 'Deployment DELETE', object: deployment(), operation: 'DELETE' as const, expected: false },
  ])('matches $name: $expected', ({ object, operation, expected }) => {
    expect(podInjectionOptOut.matches(makeContext({ object, operation }))).toBe(expected);
  });
});
