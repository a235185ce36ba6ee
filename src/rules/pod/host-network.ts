import { isPhiNamespace, objectRef } from '../../engine/context.js';
import { fieldPath, isPodCreateOrWorkloadWrite, podShapeOf } from '../../engine/pod-template.js';
import type { Rule } from '../rule.js';

/**
 * Istio never injects a sidecar into a hostNetwork pod and ztunnel never captures
 * one (istio pkg/kube/inject/inject.go, cni/pkg/util/enablement_selector.go), so its
 * traffic leaves the node in plaintext.
 */
export const podHostNetwork: Rule = {
  id: 'pod-host-network',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: 'Pods and pod templates in PHI namespaces must not use the host network, which bypasses the proxy.',
  stages: ['validate', 'offline'],

  matches: isPodCreateOrWorkloadWrite,

  check(ctx) {
    if (!isPhiNamespace(ctx)) {
      return [];
    }
    const shape = podShapeOf(ctx.kind, ctx.object);
    if (shape?.spec.hostNetwork !== true) {
      return [];
    }
    return [
      `${ctx.kind} ${objectRef(ctx)} sets ${fieldPath(shape, 'spec.hostNetwork')} to true; ` +
        `namespace ${ctx.namespace} holds PHI and host-network traffic bypasses the Istio proxy. ` +
        'Remove hostNetwork or set it to false.',
    ];
  },
};
