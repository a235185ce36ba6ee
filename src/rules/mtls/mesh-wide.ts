import { isPhiLabels, objectRef, type EvaluationContext } from '../../engine/context.js';
import type { Rule } from '../rule.js';
import { isNamespaceController } from './namespace-teardown.js';
import { isPeerAuthenticationRequest, readPeerAuthentication, type PeerAuthenticationFields } from './peer-authentication.js';

const listedNamespaces = 5;

/** Lists, sorted, the PHI namespaces without a namespace-wide STRICT policy of their own. */
function phiNamespacesWithoutStrictPolicy(ctx: EvaluationContext): string[] {
  const names: string[] = [];
  for (const namespace of ctx.view.namespaces()) {
    if (namespace.name === ctx.config.rootNamespace || !isPhiLabels(namespace.labels, ctx.config)) {
      continue;
    }
    if (ctx.view.scopePeerAuthentication(namespace.name)?.mode !== 'STRICT') {
      names.push(namespace.name);
    }
  }
  return names.sort();
}

/** Builds "PHI namespace a has no ..." or "PHI namespaces a, b, c, d, e and 3 more have no ...". */
function describeNamespaces(names: readonly string[]): string {
  if (names.length === 1) {
    return `PHI namespace ${names[0]} has no namespace-wide STRICT PeerAuthentication of its own`;
  }
  const shown = names.slice(0, listedNamespaces);
  const rest = names.length - shown.length;
  const list = rest > 0 ? `${shown.join(', ')} and ${rest} more` : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
  return `PHI namespaces ${list} have no namespace-wide STRICT PeerAuthentication of their own`;
}

const giveEachStrict = 'give each PHI namespace a namespace-wide PeerAuthentication with mode STRICT';

/**
 * Rejects a non-STRICT selector policy in the root namespace, whatever the PHI
 * namespaces are. Such a policy has no effect, because istiod's
 * ComposePeerAuthentication skips it (istio pilot/pkg/security/authn/policy_applier.go,
 * commit 46d59ce), but readers take it as a mesh-wide exception.
 */
function checkSelectorPolicy(ctx: EvaluationContext, policy: PeerAuthenticationFields): string[] {
  const findings: string[] = [];
  if (policy.mode === 'UNSET') {
    findings.push('leaves spec.mtls.mode UNSET');
  } else if (policy.mode !== 'STRICT') {
    findings.push(`sets spec.mtls.mode to ${policy.mode}`);
  }
  for (const { port, mode } of policy.ports) {
    if (mode === 'PERMISSIVE' || mode === 'DISABLE') {
      findings.push(`sets spec.portLevelMtls[${port}].mode to ${mode}`);
    }
  }
  if (findings.length === 0) {
    return [];
  }
  const root = ctx.config.rootNamespace;
  return [
    `PeerAuthentication ${objectRef(ctx)} ${findings.join(' and ')} with a selector in the root namespace ${root}. ` +
      'Istio ignores selector policies in the root namespace, but readers take this one as a mesh-wide exception ' +
      'to STRICT. Set its modes to STRICT, or move it to the namespace of the workloads it selects.',
  ];
}

function checkMeshWideWrite(ctx: EvaluationContext, policy: PeerAuthenticationFields): string[] {
  if (policy.mode === 'STRICT') {
    return [];
  }
  const exposed = phiNamespacesWithoutStrictPolicy(ctx);
  if (exposed.length === 0) {
    return [];
  }
  // A mesh-wide UNSET has no parent, so Istio keeps its starting value, PERMISSIVE
  // (istio pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication).
  const found = policy.mode === 'UNSET' ? 'leaves spec.mtls.mode UNSET, which Istio reads as PERMISSIVE' : `sets spec.mtls.mode to ${policy.mode}`;
  return [
    `PeerAuthentication ${objectRef(ctx)} is mesh-wide and ${found}, but ${describeNamespaces(exposed)}. ` +
      `Set spec.mtls.mode to STRICT, or first ${giveEachStrict}.`,
  ];
}

/**
 * Rejects deleting the STRICT mesh-wide policy, which leaves Istio's default,
 * PERMISSIVE, while a PHI namespace depends on it. Only the policy Istio applies
 * counts: it keeps the oldest mesh-wide policy and ignores newer ones (istio
 * pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication).
 *
 * NOTE: the view returns only the oldest mesh-wide policy, so when a newer one
 * exists and would take over, this still assumes Istio's default.
 */
function checkMeshWideDelete(ctx: EvaluationContext, policy: PeerAuthenticationFields): string[] {
  if (policy.mode !== 'STRICT' || isNamespaceController(ctx)) {
    return [];
  }
  const applied = ctx.view.scopePeerAuthentication(ctx.config.rootNamespace);
  if (applied !== undefined && applied.name !== ctx.name) {
    return [];
  }
  const exposed = phiNamespacesWithoutStrictPolicy(ctx);
  if (exposed.length === 0) {
    return [];
  }
  return [
    `PeerAuthentication ${objectRef(ctx)} is the STRICT mesh-wide policy; deleting it leaves the mesh with ` +
      `Istio's default, PERMISSIVE, and ${describeNamespaces(exposed)}. Keep this policy, or first ${giveEachStrict}.`,
  ];
}

/**
 * Guards PeerAuthentications in Istio's root namespace, whatever that namespace's
 * own labels. A policy there without a selector (or with empty matchLabels) is
 * mesh-wide and sets the mode of every namespace without a namespace-wide policy,
 * so it must stay STRICT while any PHI namespace lacks a STRICT policy of its own.
 */
export const mtlsMeshWide: Rule = {
  id: 'mtls-mesh-wide',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: "The mesh-wide PeerAuthentication must stay STRICT while a PHI namespace depends on it, and root-namespace selector policies must not suggest exceptions.",
  stages: ['validate', 'offline'],

  matches: isPeerAuthenticationRequest,

  check(ctx) {
    if (ctx.namespace !== ctx.config.rootNamespace) {
      return [];
    }
    const policy = readPeerAuthentication(ctx.object);
    if (ctx.operation === 'DELETE') {
      return policy.hasSelector ? [] : checkMeshWideDelete(ctx, policy);
    }
    return policy.hasSelector ? checkSelectorPolicy(ctx, policy) : checkMeshWideWrite(ctx, policy);
  },
};
