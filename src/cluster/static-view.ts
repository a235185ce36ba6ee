import type { KubeObject } from '../admission/types.js';
import type { ClusterView, MtlsMode, NamespaceInfo, ScopePeerAuthentication } from './view.js';
import { isMap } from '../engine/object.js';

const mtlsModes: ReadonlySet<string> = new Set(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

/** Reads `spec.mtls.mode`; a missing `mtls` or `mode` is `UNSET`, as Istio reads it. */
export function peerAuthenticationMode(object: KubeObject): MtlsMode {
  const spec = isMap(object.spec) ? object.spec : {};
  const mtls = isMap(spec.mtls) ? spec.mtls : {};
  const mode = mtls.mode;
  return typeof mode === 'string' && mtlsModes.has(mode) ? (mode as MtlsMode) : 'UNSET';
}

/** True for a PeerAuthentication with no selector or an empty `matchLabels`. */
export function isScopeWide(object: KubeObject): boolean {
  const spec = isMap(object.spec) ? object.spec : {};
  const selector = spec.selector;
  if (!isMap(selector)) {
    return true;
  }
  const matchLabels = selector.matchLabels;
  return !isMap(matchLabels) || Object.keys(matchLabels).length === 0;
}

export function isPeerAuthentication(object: KubeObject): boolean {
  return object.kind === 'PeerAuthentication' && (object.apiVersion ?? '').startsWith('security.istio.io/');
}

/**
 * A cluster view held in memory and filled from manifests: the offline `check`
 * command, `serve --cluster-state`, and tests use it.
 */
export class StaticClusterView implements ClusterView {
  private readonly namespaceMap = new Map<string, NamespaceInfo>();
  private readonly scopePolicies = new Map<string, ScopePeerAuthentication[]>();

  constructor(objects: Iterable<KubeObject> = []) {
    for (const object of objects) {
      this.add(object);
    }
  }

  /** Adds a Namespace or PeerAuthentication; other kinds are ignored. */
  add(object: KubeObject): void {
    const metadata = isMap(object.metadata) ? object.metadata : {};
    const name = typeof metadata.name === 'string' ? metadata.name : '';
    if (object.kind === 'Namespace' && object.apiVersion === 'v1' && name !== '') {
      const labels = isMap(metadata.labels) ? (metadata.labels as Record<string, string>) : {};
      this.namespaceMap.set(name, { name, labels: { ...labels } });
      return;
    }
    if (isPeerAuthentication(object) && isScopeWide(object)) {
      const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : 'default';
      const policy: ScopePeerAuthentication = { namespace, name, mode: peerAuthenticationMode(object) };
      if (typeof metadata.creationTimestamp === 'string') {
        policy.creationTimestamp = metadata.creationTimestamp;
      }
      const list = (this.scopePolicies.get(namespace) ?? []).filter((existing) => existing.name !== name);
      list.push(policy);
      this.scopePolicies.set(namespace, list);
    }
  }

  namespace(name: string): NamespaceInfo | undefined {
    return this.namespaceMap.get(name);
  }

  namespaces(): Iterable<NamespaceInfo> {
    return this.namespaceMap.values();
  }

  scopePeerAuthentication(namespace: string): ScopePeerAuthentication | undefined {
    const list = this.scopePolicies.get(namespace);
    if (list === undefined || list.length === 0) {
      return undefined;
    }
    // Istio applies the oldest of several namespace-wide policies. Policies read from
    // files usually have no creationTimestamp, so file order stands in for age.
    return [...list].sort((a, b) => (a.creationTimestamp ?? '').localeCompare(b.creationTimestamp ?? ''))[0];
  }

  synced(): boolean {
    return true;
  }
}
