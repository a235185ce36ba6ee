import type { EvaluationContext } from '../../engine/context.js';

/**
 * Identities of the namespace controller in kube-controller-manager, which deletes
 * everything in a namespace that is being deleted. With
 * --use-service-account-credentials (kubeadm's default) it acts as the service
 * account kube-system/namespace-controller (kubernetes
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go); without
 * that flag every controller acts as system:kube-controller-manager.
 */
const namespaceControllerUsers: ReadonlySet<string> = new Set([
  'system:serviceaccount:kube-system:namespace-controller',
  'system:kube-controller-manager',
]);

/**
 * True when the namespace controller makes the request. Its DELETEs empty a
 * namespace that is already being deleted, so rejecting them would leave the
 * namespace stuck in Terminating. The guard judges the Namespace DELETE instead.
 */
export function isNamespaceController(ctx: EvaluationContext): boolean {
  return namespaceControllerUsers.has(ctx.user.username);
}
