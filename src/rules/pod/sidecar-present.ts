import { isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import { podShapeOf, type PodShape } from '../../engine/pod-template.js';
import type { Rule } from '../rule.js';
import { hasIstioProxy, injectionKey, injectKey, isAmbientPod, namespaceLabelsOf, revisionKey } from './istio-pod.js';

/**
 * Rejects a pod that will not be in the mesh. A pod that ztunnel captures passes;
 * hostNetwork pods, which ztunnel never captures, are pod-host-network's concern.
 *
 * At the validating endpoint the pod is final, since validating webhooks run after every
 * mutating webhook, Istio's injector included, so a sidecar-mode pod must already run
 * the proxy. The offline check reads the manifest before injection, so there the pod
 * passes when Istio's injector will select it.
 */
export const podSidecarPresent: Rule = {
  id: 'pod-sidecar-present',
  severity: 'critical',
  controls: ['164.312(e)(1)', '164.312(d)'],
  summary: 'Pods in PHI namespaces must run the Istio sidecar or be captured by ztunnel.',
  stages: ['validate', 'offline'],

  matches(ctx) {
    return ctx.group === '' && ctx.kind === 'Pod' && ctx.operation === 'CREATE' && ctx.subResource === '';
  },

  check(ctx) {
    if (!isPhiNamespace(ctx)) {
      return [];
    }
    const shape = podShapeOf(ctx.kind, ctx.object);
    if (shape === undefined) {
      return [];
    }
    const namespaceLabels = namespaceLabelsOf(ctx);
    if (isAmbientPod(namespaceLabels, shape.labels)) {
      return [];
    }
    if (ctx.stage === 'offline') {
      return checkBeforeInjection(ctx, shape, namespaceLabels);
    }
    if (!ctx.config.requireProxyAtValidation) {
      return [];
    }
    return checkAfterInjection(ctx, shape, namespaceLabels);
  },
};

/** Checks the final pod, after every mutating webhook: a sidecar-mode pod must run the proxy. */
function checkAfterInjection(
  ctx: EvaluationContext,
  shape: PodShape,
  namespaceLabels: Readonly<Record<string, string>>,
): string[] {
  if (hasIstioProxy(shape)) {
    return [];
  }

  const subject = `Pod ${objectRef(ctx)}`;
  if (namespaceSelectsInjection(namespaceLabels)) {
    return [
      `${subject} has no istio-proxy container or native sidecar after all mutating webhooks ran, although ` +
        `namespace ${ctx.namespace} is labelled for injection; namespace ${ctx.namespace} holds PHI and its pods ` +
        "must run the Istio sidecar. Check that Istio's injector webhook is installed and reachable, and that the " +
        `pod does not set ${injectKey}: "false".`,
    ];
  }
  if (shape.labels[injectKey] === 'true') {
    return [
      `${subject} carries label ${injectKey}: "true" but has no istio-proxy container or native sidecar after ` +
        `all mutating webhooks ran; namespace ${ctx.namespace} holds PHI and its pods must run the Istio sidecar. ` +
        "Istio's injector did not run for this pod, or ran before the label was added. Label namespace " +
        `${ctx.namespace} ${injectionKey}=enabled (or ${revisionKey}) and check that Istio's injector webhook is ` +
        'installed and reachable.',
    ];
  }
  return [
    `${subject} has no istio-proxy container or native sidecar (an init container named istio-proxy with ` +
      `restartPolicy: Always) after all mutating webhooks ran; namespace ${ctx.namespace} holds PHI and its pods ` +
      `must run the Istio sidecar. Label namespace ${ctx.namespace} ${injectionKey}=enabled (or ${revisionKey}), ` +
      `or label it istio.io/dataplane-mode=ambient.`,
  ];
}

/**
 * True when the namespace labels alone select every pod for injection: `istio-injection:
 * enabled`, or `istio.io/rev` without `istio-injection` (istio mutatingwebhook.yaml).
 */
function namespaceSelectsInjection(namespaceLabels: Readonly<Record<string, string>>): boolean {
  const injection = namespaceLabels[injectionKey];
  if (injection !== undefined) {
    return injection === 'enabled';
  }
  return namespaceLabels[revisionKey] !== undefined;
}

/**
 * Checks that Istio's injector will select and inject the pod as written, following its
 * webhook selectors (istio mutatingwebhook.yaml) and `injectRequired`
 * (istio pkg/kube/inject/inject.go):
 * - a namespace label `istio-injection` decides alone: `enabled` selects every pod,
 *   any other value (`disabled`) selects none, even with `istio.io/rev` set;
 * - otherwise a namespace `istio.io/rev`, a pod label `istio.io/rev` or a pod label
 *   `sidecar.istio.io/inject: "true"` selects the pod;
 * - a selected pod is skipped when its inject label, or failing that its inject
 *   annotation, is "false".
 * The manifest is read as written: the guard's own inject label does not count,
 * because Istio's injector may run before the guard's mutating webhook.
 * NOTE: an `istio.io/rev` value is taken to name an installed revision, and the
 * injector's neverInjectSelector and global policy are not known offline.
 */
function checkBeforeInjection(
  ctx: EvaluationContext,
  shape: PodShape,
  namespaceLabels: Readonly<Record<string, string>>,
): string[] {
  // A manifest injected by `istioctl kube-inject` already runs the proxy.
  if (hasIstioProxy(shape)) {
    return [];
  }
  const subject = `Pod ${objectRef(ctx)}`;
  const required = `namespace ${ctx.namespace} holds PHI and its pods must run the Istio sidecar`;

  const injection = namespaceLabels[injectionKey];
  if (injection !== undefined && injection !== 'enabled') {
    const label = injection === 'disabled' ? `${injectionKey}: disabled` : `${injectionKey} with a value other than "enabled"`;
    return [
      `${subject} will not get an Istio sidecar: namespace ${ctx.namespace} is labelled ${label}, which turns ` +
        `injection off for every pod there; ${required}. Set ${injectionKey}=enabled on namespace ${ctx.namespace}.`,
    ];
  }

  const selected =
    namespaceSelectsInjection(namespaceLabels) ||
    shape.labels[revisionKey] !== undefined ||
    shape.labels[injectKey] === 'true';
  if (!selected) {
    return [
      `${subject} will not get an Istio sidecar: namespace ${ctx.namespace} has neither ${injectionKey}: enabled ` +
        `nor ${revisionKey}, and the pod has no label ${injectKey}: "true"; ${required}. Label namespace ` +
        `${ctx.namespace} ${injectionKey}=enabled (or ${revisionKey}), or add the label ${injectKey}: "true" ` +
        'to the pod.',
    ];
  }

  const optOut = shape.labels[injectKey] ?? shape.annotations[injectKey];
  if (optOut === 'false') {
    return [
      `${subject} will not get an Istio sidecar: it sets ${injectKey}: "false", which Istio's injector obeys; ` +
        `${required}. Remove ${injectKey} from the pod's labels and annotations.`,
    ];
  }
  return [];
}
