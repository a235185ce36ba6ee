import type { KubeObject, Operation } from '../admission/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { GuardConfig } from '../config/schema.js';

/**
 * Where an evaluation happens. `mutate` and `validate` are the webhook endpoints;
 * `offline` is the `check` command, which sees manifests before any mutating
 * webhook (Istio's injector included) has run.
 */
export type Stage = 'mutate' | 'validate' | 'offline';

/** Everything a rule may read. Rules do no I/O, so this is all they see. */
export interface EvaluationContext {
  stage: Stage;
  operation: Operation;
  group: string;
  version: string;
  kind: string;
  /** The resource, such as `pods`; CONNECT requests carry an options kind, so match them by resource. */
  resource: string;
  /** `''` when the request is for the object itself. */
  subResource: string;
  /** From `request.namespace`; `''` for cluster-scoped objects. */
  namespace: string;
  /** `metadata.name`, else the `generateName` prefix. */
  name: string;
  user: { username: string; groups: readonly string[] };
  dryRun: boolean;
  /** The object being admitted; for DELETE, the object being deleted. */
  object: KubeObject | undefined;
  /** The stored object for UPDATE and DELETE. */
  oldObject: KubeObject | undefined;
  /** CONNECT options such as PodExecOptions. */
  options: unknown;
  config: GuardConfig;
  view: ClusterView;
}

export function isPhiLabels(labels: Readonly<Record<string, string>> | undefined, config: GuardConfig): boolean {
  return labels?.[config.phiLabel.key] === config.phiLabel.value;
}

/** Returns true when the view contains `namespace` and its labels mark it as a PHI namespace. */
export function isPhiNamespace(ctx: EvaluationContext, namespace: string = ctx.namespace): boolean {
  if (namespace === '') {
    return false;
  }
  return isPhiLabels(ctx.view.namespace(namespace)?.labels, ctx.config);
}

export function isBreakGlassUser(ctx: EvaluationContext): boolean {
  const { users, groups } = ctx.config.breakGlass;
  if (users.includes(ctx.user.username)) {
    return true;
  }
  return ctx.user.groups.some((group) => groups.includes(group));
}

/** `namespace/name`, or `name` for cluster-scoped objects, for messages. */
export function objectRef(ctx: EvaluationContext): string {
  return ctx.namespace === '' ? ctx.name : `${ctx.namespace}/${ctx.name}`;
}
