import type { KubeObject } from '../../admission/types.js';
import type { EvaluationContext } from '../../engine/context.js';
import { optionalMap, stringMap } from '../../engine/object.js';

/** True for a request on a Namespace itself, not on its status or finalize subresource. */
export function isNamespaceRequest(ctx: EvaluationContext): boolean {
  return ctx.group === '' && ctx.kind === 'Namespace' && ctx.subResource === '';
}

/**
 * The labels of a Namespace object, `{}` when it has none. `prefix` names the
 * object in error paths, such as `oldObject.` for the stored version.
 */
export function namespaceLabels(object: KubeObject | undefined, prefix = ''): Record<string, string> {
  const metadata = optionalMap(object?.metadata, `${prefix}metadata`);
  return stringMap(metadata?.labels, `${prefix}metadata.labels`);
}
