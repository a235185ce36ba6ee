import type { KubeObject } from '../admission/types.js';
import { StaticClusterView } from '../cluster/static-view.js';
import type { GuardConfig } from '../config/schema.js';
import { applyPatch } from '../engine/apply-patch.js';
import type { EvaluationContext } from '../engine/context.js';
import type { Decision, DecisionKind, Mode, Violation } from '../engine/decision.js';
import { evaluate } from '../engine/evaluate.js';
import { isMap } from '../engine/object.js';
import type { ManifestDocument } from '../manifest/read.js';
import type { AdmissionRequest, PatchOperation } from '../admission/types.js';
import { contextFromRequest } from '../engine/request-context.js';
import type { Rule } from '../rules/rule.js';

/** Kinds that have no namespace; every other kind is taken as namespaced. */
const clusterScopedKinds: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'IngressClass',
  'RuntimeClass',
  'GatewayClass',
  'APIService',
]);

export interface CheckOptions {
  documents: readonly ManifestDocument[];
  config: GuardConfig;
  rules: readonly Rule[];
  mode: Mode;
  /** Namespaces that already exist and hold PHI, beyond those in the documents. */
  phiNamespaces?: readonly string[];
  /** Namespace for namespaced objects without metadata.namespace, as `kubectl apply` uses. */
  defaultNamespace?: string;
  now?: Date;
}

export interface CheckResult {
  source: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  decision: DecisionKind;
  violations: Violation[];
  patch: PatchOperation[];
  /** Reason the object could not be evaluated, for `error` decisions. */
  error?: string;
}

/**
 * Judges manifests as `kubectl apply` of them would be admitted: Namespaces are
 * created first, through the guard's own mutation, and every object is then
 * evaluated as a CREATE against that view, as written (before any injection).
 */
export function checkManifests(options: CheckOptions): CheckResult[] {
  const { config, rules, mode } = options;
  const now = options.now ?? new Date();
  const view = new StaticClusterView();
  for (const name of options.phiNamespaces ?? []) {
    view.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [config.phiLabel.key]: config.phiLabel.value } } });
  }

  const contexts = options.documents.map((document) => contextFor(document.object, options, view));
  const decisions = new Map<number, Decision>();

  options.documents.forEach((document, index) => {
    if (document.object.kind !== 'Namespace' || document.object.apiVersion !== 'v1') {
      return;
    }
    const decision = evaluate(contexts[index]!, rules, now, mode);
    decisions.set(index, decision);
    const created = decision.patch.length > 0 && decision.decision !== 'error' ? applyPatch(document.object, decision.patch) : document.object;
    view.add(created);
  });
  for (const document of options.documents) {
    if (document.object.kind === 'PeerAuthentication') {
      view.add(document.object);
    }
  }

  return options.documents.map((document, index) => {
    const ctx = contexts[index]!;
    const decision = decisions.get(index) ?? evaluate(ctx, rules, now, mode);
    const result: CheckResult = {
      source: document.source,
      apiVersion: document.object.apiVersion ?? '',
      kind: ctx.kind,
      namespace: ctx.namespace,
      name: ctx.name,
      decision: decision.decision,
      violations: decision.violations,
      patch: decision.patch,
    };
    if (decision.errorMessage !== undefined) {
      result.error = decision.errorMessage;
    }
    return result;
  });
}

/**
 * Builds the context of a CREATE of `object` as the API server would send it, so the
 * offline check reads names and namespaces exactly as the webhook does.
 */
function contextFor(object: KubeObject, options: CheckOptions, view: StaticClusterView): EvaluationContext {
  const apiVersion = object.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  const group = slash === -1 ? '' : apiVersion.slice(0, slash);
  const version = slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
  const kind = object.kind ?? '';

  let namespace = '';
  if (!clusterScopedKinds.has(kind)) {
    const metadata = isMap(object.metadata) ? object.metadata : {};
    const written = typeof metadata.namespace === 'string' ? metadata.namespace : '';
    namespace = written !== '' ? written : (options.defaultNamespace ?? 'default');
  }

  const request: AdmissionRequest = {
    uid: '',
    kind: { group, version, kind },
    resource: { group, version, resource: `${kind.toLowerCase()}s` },
    operation: 'CREATE',
    namespace,
    userInfo: { username: '', groups: [] },
    object,
    dryRun: true,
  };
  return contextFromRequest(request, 'offline', options.config, view);
}
