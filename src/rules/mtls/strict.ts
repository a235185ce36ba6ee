import { isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import type { Rule } from '../rule.js';
import { meshWideMode, namespaceMode } from './inheritance.js';
import { isNamespaceController } from './namespace-teardown.js';
import { isPeerAuthenticationRequest, readPeerAuthentication, type PeerAuthenticationFields } from './peer-authentication.js';

function checkWrite(ctx: EvaluationContext, policy: PeerAuthenticationFields): string[] {
  const ref = `PeerAuthentication ${objectRef(ctx)}`;
  const requirement = `namespace ${ctx.namespace} holds PHI and requires STRICT`;
  const messages: string[] = [];

  if (policy.mode === 'PERMISSIVE' || policy.mode === 'DISABLE') {
    messages.push(`${ref} sets spec.mtls.mode to ${policy.mode}; ${requirement}. Set spec.mtls.mode to STRICT.`);
  } else if (policy.mode === 'UNSET') {
    // A workload-level policy inherits the namespace-wide one, which in turn
    // inherits the mesh-wide one; a namespace-wide policy inherits the mesh-wide one.
    // Passing the policy's own name keeps a policy that gains a selector from
    // inheriting its own older, namespace-wide version.
    const inherited = policy.hasSelector ? namespaceMode(ctx, ctx.namespace, ctx.name) : meshWideMode(ctx);
    if (inherited.mode !== 'STRICT') {
      messages.push(
        `${ref} leaves spec.mtls.mode UNSET, so it inherits ${inherited.origin}; ${requirement}. ` +
          'Set spec.mtls.mode to STRICT.',
      );
    }
  }

  // A port-level UNSET takes the policy's own result (istio
  // pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication, commit
  // 46d59ce). The message above already covers that result when it is not STRICT,
  // so only explicit port modes get a message of their own.
  for (const { port, mode } of policy.ports) {
    if (mode === 'PERMISSIVE' || mode === 'DISABLE') {
      const field = `spec.portLevelMtls[${port}].mode`;
      messages.push(`${ref} sets ${field} to ${mode}; ${requirement} on every port. Set ${field} to STRICT or remove the port entry.`);
    }
  }
  return messages;
}

/**
 * Rejects deleting the namespace-wide STRICT policy when the namespace would then
 * inherit a weaker mesh-wide mode. Only the policy Istio applies counts: within one
 * scope Istio keeps the oldest policy and ignores newer ones (ComposePeerAuthentication,
 * as above), so deleting an ignored duplicate changes nothing.
 */
function checkDelete(ctx: EvaluationContext, policy: PeerAuthenticationFields): string[] {
  // NOTE: deleting a workload-level STRICT policy is admitted even when its pods
  // would fall back to a weaker mode, because such a policy usually goes away with
  // the workload it selects.
  if (policy.hasSelector || policy.mode !== 'STRICT' || isNamespaceController(ctx)) {
    return [];
  }
  const applied = ctx.view.scopePeerAuthentication(ctx.namespace);
  if (applied !== undefined && applied.name !== ctx.name) {
    return [];
  }
  const fallback = meshWideMode(ctx);
  if (fallback.mode === 'STRICT') {
    return [];
  }
  return [
    `PeerAuthentication ${objectRef(ctx)} is the STRICT namespace-wide policy of namespace ${ctx.namespace}, which ` +
      `holds PHI; deleting it would make the namespace inherit ${fallback.origin}. Keep this policy, or make the ` +
      `mesh-wide PeerAuthentication in ${ctx.config.rootNamespace} STRICT before deleting it.`,
  ];
}

/**
 * Requires STRICT mTLS from every PeerAuthentication in a PHI namespace outside the
 * root namespace: its own mode, the mode an UNSET inherits, and each port-level
 * mode. Istio resolves UNSET from the level above (workload, then namespace, then
 * mesh), and a mesh-wide UNSET or no mesh-wide policy at all means PERMISSIVE
 * (istio pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication,
 * commit 46d59ce).
 *
 * The validating webhook also receives PeerAuthentication DELETE. Deleting the
 * namespace-wide STRICT policy while the mesh-wide mode is not STRICT would let the
 * namespace accept plaintext, so that DELETE is rejected, unless the namespace
 * controller makes it while emptying a namespace that is being deleted.
 */
export const mtlsStrict: Rule = {
  id: 'mtls-strict',
  severity: 'critical',
  controls: ['164.312(e)(1)', '164.312(d)'],
  summary: 'PeerAuthentications in PHI namespaces must resolve to STRICT mTLS on every port.',
  stages: ['validate', 'offline'],

  matches: isPeerAuthenticationRequest,

  check(ctx) {
    if (ctx.namespace === ctx.config.rootNamespace || !isPhiNamespace(ctx)) {
      return [];
    }
    const policy = readPeerAuthentication(ctx.object);
    return ctx.operation === 'DELETE' ? checkDelete(ctx, policy) : checkWrite(ctx, policy);
  },
};
