/**
 * Istio's pod and namespace labels, and the predicates that the pod rules share.
 * Facts from istio/api label/labels.yaml and annotation/annotations.yaml and from
 * istio manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml.
 */
import type { EvaluationContext } from '../../engine/context.js';
import { optionalString } from '../../engine/object.js';
import { containersOf, type PodShape } from '../../engine/pod-template.js';

/** Pod label (current API) and deprecated pod annotation; Istio reads only "true" and "false". */
export const injectKey = 'sidecar.istio.io/inject';
/** Namespace or pod label: `ambient` enrolls pods in ztunnel, `none` keeps a pod out. */
export const dataplaneModeKey = 'istio.io/dataplane-mode';
/** Namespace label that selects pods for injection: `enabled` or `disabled`. */
export const injectionKey = 'istio-injection';
/** Namespace or pod label naming the control plane revision that injects the pod. */
export const revisionKey = 'istio.io/rev';
export const proxyContainerName = 'istio-proxy';

/** The labels of the request's namespace as the cluster view stores them; `{}` when unknown. */
export function namespaceLabelsOf(ctx: EvaluationContext): Readonly<Record<string, string>> {
  return ctx.view.namespace(ctx.namespace)?.labels ?? {};
}

export function isAmbientNamespace(namespaceLabels: Readonly<Record<string, string>>): boolean {
  return namespaceLabels[dataplaneModeKey] === 'ambient';
}

/**
 * True when ztunnel captures the pod: it is labelled `istio.io/dataplane-mode: ambient`,
 * or its namespace is and the pod is not labelled `none`
 * (istio manifests/charts/istio-cni/values.yaml, ambient enablement selectors).
 */
export function isAmbientPod(
  namespaceLabels: Readonly<Record<string, string>>,
  podLabels: Readonly<Record<string, string>>,
): boolean {
  const podMode = podLabels[dataplaneModeKey];
  if (podMode === 'ambient') {
    return true;
  }
  return isAmbientNamespace(namespaceLabels) && podMode !== 'none';
}

/** True for an init container with `restartPolicy: Always`, which Kubernetes runs beside the app. */
export function isNativeSidecar(container: Readonly<Record<string, unknown>>, path: string): boolean {
  return optionalString(container.restartPolicy, `${path}.restartPolicy`) === 'Always';
}

/**
 * True when the pod runs Istio's proxy: a container named `istio-proxy`, or an init
 * container of that name with `restartPolicy: Always` (native sidecar, the injector's
 * default from Istio 1.27 where every kubelet is 1.33 or newer).
 */
export function hasIstioProxy(shape: PodShape): boolean {
  for (const entry of containersOf(shape)) {
    if (entry.name !== proxyContainerName) {
      continue;
    }
    if (entry.list === 'containers') {
      return true;
    }
    if (entry.list === 'initContainers' && isNativeSidecar(entry.container, entry.path)) {
      return true;
    }
  }
  return false;
}
