import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../admission/types.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { podHostNetwork } from './host-network.js';

function deployment(hostNetwork: unknown): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'records-api', namespace: 'billing' },
    spec: { template: { metadata: { labels: { app: 'records-api' } }, spec: { hostNetwork, containers: [{ name: 'api' }] } } },
  };
}

function pod(hostNetwork: unknown): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'records-api-7c9f-', namespace: 'billing' }, spec: { hostNetwork, containers: [{ name: 'api' }] } };
}

describe('pod-host-network', () => {
  it('names the template field of a Deployment', () => {
    const ctx = makeContext({ object: deployment(true), cluster: [phiNamespace('billing')] });
    expect(podHostNetwork.check!(ctx)).toEqual([
      'Deployment billing/records-api sets spec.template.spec.hostNetwork to true; namespace billing holds PHI ' +
        'and host-network traffic bypasses the Istio proxy. Remove hostNetwork or set it to false.',
    ]);
  });

  it.each([
    { name: 'host-network pod', object: pod(true), found: 1 },
    { name: 'hostNetwork false', object: pod(false), found: 0 },
    { name: 'hostNetwork absent', object: pod(undefined), found: 0 },
    { name: 'string "true" is not true', object: pod('true'), found: 0 },
    { name: 'host-network Deployment', object: deployment(true), found: 1 },
  ])('$name in a PHI namespace', ({ object, found }) => {
    const ctx = makeContext({ object, cluster: [phiNamespace('billing')] });
    expect(podHostNetwork.check!(ctx)).toHaveLength(found);
  });

  it('ignores namespaces without PHI', () => {
    const ctx = makeContext({ object: pod(true), cluster: [namespace('billing')] });
    expect(podHostNetwork.check!(ctx)).toEqual([]);
  });

  it('uses the generateName prefix for unnamed pods', () => {
    const ctx = makeContext({ object: pod(true), cluster: [phiNamespace('billing')] });
    expect(podHostNetwork.check!(ctx)[0]).toMatch(/^Pod billing\/records-api-7c9f- sets spec\.hostNetwork/);
  });
});
