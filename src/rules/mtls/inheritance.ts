import type { MtlsMode } from '../../cluster/view.js';
import type { EvaluationContext } from '../../engine/context.js';

/**
 * The mode a PeerAuthentication level takes from the levels above it. Istio resolves
 * mesh, then namespace, then workload, then port, and at each level UNSET takes the
 * value of the level above. The chain starts from PERMISSIVE, so it always ends in
 * a concrete mode (istio pilot/pkg/security/authn/policy_applier.go,
 * ComposePeerAuthentication, commit 46d59ce).
 */
export interface InheritedMode {
  mode: Exclude<MtlsMode, 'UNSET'>;
  /** Completes "inherits ...", such as "PERMISSIVE from the mesh-wide PeerAuthentication istio-system/default". */
  origin: string;
}

/**
 * Resolves the mesh-wide mode. A mesh-wide UNSET and a missing mesh-wide policy both
 * leave Istio's starting value, PERMISSIVE (ComposePeerAuthentication, as above).
 */
export function meshWideMode(ctx: EvaluationContext): InheritedMode {
  const root = ctx.config.rootNamespace;
  const policy = ctx.view.scopePeerAuthentication(root);
  if (policy === undefined) {
    return { mode: 'PERMISSIVE', origin: `Istio's default, PERMISSIVE, because no mesh-wide PeerAuthentication exists in ${root}` };
  }
  const ref = `the mesh-wide PeerAuthentication ${root}/${policy.name}`;
  if (policy.mode === 'UNSET') {
    return { mode: 'PERMISSIVE', origin: `PERMISSIVE from ${ref}, whose UNSET mode Istio reads as PERMISSIVE` };
  }
  return { mode: policy.mode, origin: `${policy.mode} from ${ref}` };
}

/**
 * Resolves the mode a workload-level policy in `namespace` inherits: the
 * namespace-wide policy's mode, or the mesh-wide mode when the namespace-wide policy
 * is UNSET or missing. `exceptName` leaves out the namespace-wide policy of that name, so a
 * policy that gains a selector does not inherit from its own older version.
 *
 * NOTE: the view returns only the oldest namespace-wide policy. When that one is
 * left out and a newer one exists, Istio would apply the newer one, which this
 * misses.
 */
export function namespaceMode(ctx: EvaluationContext, namespace: string, exceptName?: string): InheritedMode {
  const policy = ctx.view.scopePeerAuthentication(namespace);
  if (policy === undefined || policy.name === exceptName || policy.mode === 'UNSET') {
    return meshWideMode(ctx);
  }
  return { mode: policy.mode, origin: `${policy.mode} from the namespace-wide PeerAuthentication ${namespace}/${policy.name}` };
}
