import { isPhiNamespace, type EvaluationContext } from '../engine/context.js';

const listedNamespacesMax = 3;

/** Names of the PHI namespaces in the cluster view, sorted. */
export function phiNamespaceNames(ctx: EvaluationContext): string[] {
  const names: string[] = [];
  for (const namespace of ctx.view.namespaces()) {
    if (isPhiNamespace(ctx, namespace.name)) {
      names.push(namespace.name);
    }
  }
  return names.sort();
}

/** `PHI namespace a`, `PHI namespaces a, b, c and 2 more`. */
export function describePhiNamespaces(names: readonly string[]): string {
  if (names.length === 1) {
    return `PHI namespace ${names[0]}`;
  }
  const listed = names.slice(0, listedNamespacesMax).join(', ');
  const more = names.length - listedNamespacesMax;
  return more > 0 ? `PHI namespaces ${listed} and ${more} more` : `PHI namespaces ${listed}`;
}
