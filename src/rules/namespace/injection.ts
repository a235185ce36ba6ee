import { isPhiLabels, type EvaluationContext } from '../../engine/context.js';
import { addMapEntries } from '../../engine/patch.js';
import type { Rule } from '../rule.js';
import { isNamespaceRequest, namespaceLabels } from './labels.js';

const injectionLabel = 'istio-injection';
const revisionLabel = 'istio.io/rev';
const dataplaneModeLabel = 'istio.io/dataplane-mode';
const dataPlaneLabels = [injectionLabel, revisionLabel, dataplaneModeLabel] as const;

/**
 * True when Istio places the namespace's pods in the mesh. The injector's webhook
 * selects `istio-injection: enabled`, or `istio.io/rev` when `istio-injection` is
 * absent, so any other `istio-injection` value turns injection off even beside
 * `istio.io/rev` (istio manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml,
 * master 86c9f01). ztunnel captures the pods of a namespace labelled
 * `istio.io/dataplane-mode: ambient` (istio manifests/charts/istio-cni/values.yaml).
 */
function selectsDataPlane(labels: Readonly<Record<string, string>>): boolean {
  if (labels[dataplaneModeLabel] === 'ambient') {
    return true;
  }
  const injection = labels[injectionLabel];
  if (injection !== undefined) {
    return injection === 'enabled';
  }
  return labels[revisionLabel] !== undefined;
}

function hasDataPlaneLabel(labels: Readonly<Record<string, string>>): boolean {
  return labels[injectionLabel] !== undefined || labels[revisionLabel] !== undefined || labels[dataplaneModeLabel] === 'ambient';
}

/**
 * Describes how an UPDATE takes the namespace's pods out of the mesh ("removes
 * label istio.io/rev"), or returns `undefined` when it does not. A change that
 * keeps a data plane, such as Istio's revision upgrade (remove `istio-injection`,
 * add `istio.io/rev`), returns `undefined`, and so does an `istio-injection` value
 * other than `enabled`, which has a violation of its own.
 */
function describeDataPlaneRemoval(ctx: EvaluationContext, labels: Readonly<Record<string, string>>): string | undefined {
  if (ctx.operation !== 'UPDATE' || labels[injectionLabel] !== undefined || selectsDataPlane(labels)) {
    return undefined;
  }
  const oldLabels = namespaceLabels(ctx.oldObject, 'oldObject.');
  if (!selectsDataPlane(oldLabels)) {
    return undefined;
  }

  const removed: string[] = [];
  const changed: string[] = [];
  for (const key of dataPlaneLabels) {
    if (oldLabels[key] !== undefined && oldLabels[key] !== labels[key]) {
      (labels[key] === undefined ? removed : changed).push(key);
    }
  }
  const parts: string[] = [];
  if (removed.length > 0) {
    parts.push(`removes ${removed.length === 1 ? 'label' : 'labels'} ${removed.join(' and ')}`);
  }
  if (changed.length > 0) {
    parts.push(`changes ${changed.length === 1 ? 'label' : 'labels'} ${changed.join(' and ')}`);
  }
  return parts.join(' and ');
}

/**
 * Keeps PHI namespaces selected by Istio's sidecar injector or by ztunnel. A
 * Namespace's PHI label is read from the object itself, because the view has only
 * the stored version. The rule runs at the mutating endpoint too, because the
 * validating webhook configuration does not receive Namespace CREATE.
 *
 * Removing a data plane label is rejected rather than silently undone: the
 * mutation adds `istio-injection: enabled` only when the namespace has no data
 * plane label and the update did not just take one away.
 */
export const namespaceInjection: Rule = {
  id: 'namespace-injection',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: 'PHI namespaces must keep a data plane label, and get istio-injection: enabled when they have none.',
  stages: ['mutate', 'validate', 'offline'],

  matches(ctx) {
    return isNamespaceRequest(ctx) && (ctx.operation === 'CREATE' || ctx.operation === 'UPDATE');
  },

  check(ctx) {
    const labels = namespaceLabels(ctx.object);
    if (!isPhiLabels(labels, ctx.config)) {
      return [];
    }

    const injection = labels[injectionLabel];
    if (injection === 'disabled') {
      return [
        `Namespace ${ctx.name} holds PHI and sets label istio-injection to disabled, so Istio's injector gives ` +
          'its new pods no sidecar. Set istio-injection to enabled, or remove the label.',
      ];
    }
    if (injection !== undefined && injection !== 'enabled') {
      return [
        `Namespace ${ctx.name} holds PHI and sets label istio-injection to a value other than enabled, which ` +
          "Istio's injector reads as no injection. Set istio-injection to enabled, or remove the label.",
      ];
    }

    const removal = describeDataPlaneRemoval(ctx, labels);
    if (removal === undefined) {
      return [];
    }
    return [
      `Namespace ${ctx.name} holds PHI, and this update ${removal}, which leaves its pods ` +
        'outside the Istio mesh. Keep the label, or replace it in the same update with istio-injection: enabled, ' +
        'istio.io/rev or istio.io/dataplane-mode: ambient.',
    ];
  },

  mutate(ctx) {
    const labels = namespaceLabels(ctx.object);
    if (!isPhiLabels(labels, ctx.config) || hasDataPlaneLabel(labels)) {
      return [];
    }
    if (describeDataPlaneRemoval(ctx, labels) !== undefined) {
      return [];
    }
    // The labels map exists because it contains the PHI label, so this adds one key.
    return addMapEntries(labels, '/metadata/labels', { [injectionLabel]: 'enabled' });
  },
};
