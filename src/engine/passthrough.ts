import type { EvaluationContext } from './context.js';
import { isMap } from './object.js';

/** Pod subresources that rules check; every other subresource passes untouched. */
const checkedPodSubresources: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'ephemeralcontainers']);

/**
 * The reason a request passes without evaluation, or `undefined` when rules apply:
 * system namespaces and the guard's own, pods in the Istio root namespace (so the
 * guard never blocks istiod's restart), subresources no rule names, and objects
 * that are being deleted.
 */
export function passthroughReason(ctx: EvaluationContext): string | undefined {
  const { config } = ctx;
  if (ctx.namespace !== '' && (config.exemptNamespaces.includes(ctx.namespace) || ctx.namespace === config.guardNamespace)) {
    return 'namespace is outside the guard';
  }
  if (ctx.resource === 'pods' && ctx.group === '' && ctx.namespace === config.rootNamespace) {
    return 'pods in the Istio root namespace are not checked';
  }
  if (ctx.subResource !== '' && !(ctx.resource === 'pods' && checkedPodSubresources.has(ctx.subResource))) {
    return 'subresource is not checked';
  }
  if (ctx.operation === 'UPDATE' && ctx.subResource === '' && isTerminating(ctx.object)) {
    return 'object is being deleted';
  }
  return undefined;
}

function isTerminating(object: unknown): boolean {
  if (!isMap(object) || !isMap(object.metadata)) {
    return false;
  }
  const timestamp = object.metadata.deletionTimestamp;
  return timestamp !== undefined && timestamp !== null;
}
