import type { KubeObject } from '../../admission/types.js';
import type { MtlsMode } from '../../cluster/view.js';
import type { EvaluationContext } from '../../engine/context.js';
import { EvaluationError } from '../../errors.js';
import { optionalMap, optionalString, stringMap } from '../../engine/object.js';

const mtlsModes: ReadonlySet<string> = new Set<MtlsMode>(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

/**
 * True for a PeerAuthentication CREATE, UPDATE or DELETE in any served version
 * (security.istio.io v1 and v1beta1 share one schema).
 */
export function isPeerAuthenticationRequest(ctx: EvaluationContext): boolean {
  if (ctx.group !== 'security.istio.io' || ctx.kind !== 'PeerAuthentication' || ctx.subResource !== '') {
    return false;
  }
  return ctx.operation === 'CREATE' || ctx.operation === 'UPDATE' || ctx.operation === 'DELETE';
}

/** The fields of a PeerAuthentication that the mTLS rules read. */
export interface PeerAuthenticationFields {
  /** `spec.mtls.mode`; a missing `mtls`, `mtls: {}` or missing `mode` is `UNSET`, as Istio reads it. */
  mode: MtlsMode;
  /** True when `spec.selector.matchLabels` has at least one entry. */
  hasSelector: boolean;
  /** Each `spec.portLevelMtls` entry, keyed by workload (container) port. */
  ports: { port: string; mode: MtlsMode }[];
}

/**
 * Reads a PeerAuthentication with the defensive readers, so a field of the wrong
 * type raises EvaluationError with its path. CRD validation rejects unknown modes
 * before they reach a webhook, but the offline check reads manifests as written, so
 * an unknown mode raises too instead of passing as UNSET.
 */
export function readPeerAuthentication(object: KubeObject | undefined): PeerAuthenticationFields {
  if (object === undefined) {
    throw new EvaluationError('the request carries no PeerAuthentication object');
  }
  const spec = optionalMap(object.spec, 'spec') ?? {};
  const mtls = optionalMap(spec.mtls, 'spec.mtls');
  const selector = optionalMap(spec.selector, 'spec.selector');
  const matchLabels = stringMap(selector?.matchLabels, 'spec.selector.matchLabels');

  const portMap = optionalMap(spec.portLevelMtls, 'spec.portLevelMtls') ?? {};
  const ports = Object.keys(portMap).map((port) => {
    const path = `spec.portLevelMtls[${port}]`;
    const entry = optionalMap(portMap[port], path);
    return { port, mode: readMode(entry?.mode, `${path}.mode`) };
  });

  return {
    mode: readMode(mtls?.mode, 'spec.mtls.mode'),
    hasSelector: Object.keys(matchLabels).length > 0,
    ports,
  };
}

function readMode(value: unknown, path: string): MtlsMode {
  const mode = optionalString(value, path);
  if (mode === undefined) {
    return 'UNSET';
  }
  if (!mtlsModes.has(mode)) {
    throw new EvaluationError(`${path} must be one of UNSET, DISABLE, PERMISSIVE or STRICT, found an unknown value`);
  }
  return mode as MtlsMode;
}
