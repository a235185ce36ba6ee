import type { PatchOperation } from '../../admission/types.js';
import { isPhiNamespace } from '../../engine/context.js';
import { optionalMap, stringMap } from '../../engine/object.js';
import { addMapEntries } from '../../engine/patch.js';
import type { Rule } from '../rule.js';
import { dataplaneModeKey, injectKey, isAmbientNamespace, namespaceLabelsOf } from './istio-pod.js';

/**
 * Labels each new pod in a PHI namespace with the PHI classification and, in sidecar
 * mode, requests a sidecar from Istio's injector. Workload templates are never mutated,
 * so GitOps tools see no drift.
 */
export const podPhiLabels: Rule = {
  id: 'pod-phi-labels',
  severity: 'medium',
  controls: ['164.312(a)(1)'],
  summary: 'Pods in PHI namespaces carry the PHI label and, in sidecar mode, ask Istio for a sidecar.',
  stages: ['mutate', 'offline'],

  matches(ctx) {
    return ctx.group === '' && ctx.kind === 'Pod' && ctx.operation === 'CREATE' && ctx.subResource === '';
  },

  mutate(ctx) {
    if (!isPhiNamespace(ctx) || ctx.object === undefined) {
      return [];
    }
    const metadata = optionalMap(ctx.object.metadata, 'metadata');
    const labelMap = optionalMap(metadata?.labels, 'metadata.labels');
    const labels = labelMap === undefined ? undefined : stringMap(labelMap, 'metadata.labels');
    const annotations = stringMap(metadata?.annotations, 'metadata.annotations');

    // The pod's own PHI label is overwritten when it has another value: the namespace
    // decides the classification, not the workload owner.
    const desiredLabels: Record<string, string> = { [ctx.config.phiLabel.key]: ctx.config.phiLabel.value };
    if (needsInjectLabel(namespaceLabelsOf(ctx), labels ?? {}, annotations)) {
      desiredLabels[injectKey] = 'true';
    }

    if (metadata === undefined) {
      const operation: PatchOperation = { op: 'add', path: '/metadata', value: { labels: desiredLabels } };
      return [operation];
    }
    return addMapEntries(labels, '/metadata/labels', desiredLabels);
  },
};

/**
 * True in sidecar mode when the pod states no injection choice of its own. An existing
 * `sidecar.istio.io/inject` label is never touched, whatever its value, and neither is
 * an annotation other than "true": Istio's label overrides the annotation
 * (istio pkg/kube/inject/inject.go), so adding the label would silently undo an
 * annotation opt-out that pod-injection-opt-out rejects instead.
 */
function needsInjectLabel(
  namespaceLabels: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): boolean {
  if (isAmbientNamespace(namespaceLabels) || labels[dataplaneModeKey] === 'ambient') {
    return false;
  }
  if (labels[injectKey] !== undefined) {
    return false;
  }
  const annotation = annotations[injectKey];
  return annotation === undefined || annotation === 'true';
}
