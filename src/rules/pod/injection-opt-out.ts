import { isPhiNamespace, objectRef } from '../../engine/context.js';
import { fieldPath, isPodCreateOrWorkloadWrite, podShapeOf } from '../../engine/pod-template.js';
import type { Rule } from '../rule.js';
import { dataplaneModeKey, injectKey, isAmbientNamespace, namespaceLabelsOf } from './istio-pod.js';

/**
 * Rejects pods and pod templates that opt out of the mesh.
 *
 * In sidecar mode, `sidecar.istio.io/inject: "false"` is rejected as a label and as an
 * annotation. Istio reads only the exact strings "true" and "false", and the label
 * overrides the annotation (istio pkg/kube/inject/inject.go). The annotation is
 * rejected even beside a label "true", because it is deprecated
 * (istio/api annotation/annotations.yaml) and a reader takes it as an opt-out.
 *
 * In an ambient namespace, ztunnel captures every pod not labelled
 * `istio.io/dataplane-mode: none` (istio manifests/charts/istio-cni/values.yaml,
 * ambient enablement selectors), so `none` is rejected there. An injection opt-out is
 * accepted there, because ztunnel captures the pod whether or not it has a sidecar.
 */
export const podInjectionOptOut: Rule = {
  id: 'pod-injection-opt-out',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: 'Pods and pod templates in PHI namespaces must not opt out of the Istio sidecar or of ambient capture.',
  stages: ['validate', 'offline'],

  matches: isPodCreateOrWorkloadWrite,

  check(ctx) {
    if (!isPhiNamespace(ctx)) {
      return [];
    }
    const shape = podShapeOf(ctx.kind, ctx.object);
    if (shape === undefined) {
      return [];
    }
    const subject = `${ctx.kind} ${objectRef(ctx)}`;
    const labelsPath = fieldPath(shape, 'metadata.labels');
    const messages: string[] = [];

    if (isAmbientNamespace(namespaceLabelsOf(ctx))) {
      if (shape.labels[dataplaneModeKey] === 'none') {
        messages.push(
          `${subject} sets label ${dataplaneModeKey}: none in ${labelsPath}; namespace ${ctx.namespace} holds PHI ` +
            'and is in ambient mode, and this label keeps ztunnel from capturing the pod, so its traffic leaves ' +
            'without mTLS. Remove the label.',
        );
      }
      return messages;
    }

    if (shape.labels[injectKey] === 'false') {
      messages.push(
        `${subject} sets label ${injectKey}: "false" in ${labelsPath}; namespace ${ctx.namespace} holds PHI ` +
          "and Istio's injector skips pods with this label, so the pod would run without a sidecar. " +
          'Remove the label or set it to "true".',
      );
    }
    if (shape.annotations[injectKey] === 'false') {
      messages.push(
        `${subject} sets annotation ${injectKey}: "false" in ${fieldPath(shape, 'metadata.annotations')}; ` +
          `namespace ${ctx.namespace} holds PHI and this deprecated annotation opts the pod out of ` +
          'sidecar injection. Remove the annotation.',
      );
    }
    return messages;
  },
};
