/**
 * What the guard knows beyond the request: namespace labels and the
 * namespace-wide and mesh-wide PeerAuthentications. The request path only reads
 * this in-memory view; filling it (from files or from informers) happens elsewhere.
 */

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface NamespaceInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** A PeerAuthentication without a selector (or with empty matchLabels). */
export interface ScopePeerAuthentication {
  namespace: string;
  name: string;
  /** `spec.mtls.mode`, with a missing `mtls` or `mode` read as `UNSET`. */
  mode: MtlsMode;
  creationTimestamp?: string;
}

export interface ClusterView {
  namespace(name: string): NamespaceInfo | undefined;
  namespaces(): Iterable<NamespaceInfo>;
  /**
   * The namespace-wide PeerAuthentication that Istio applies in `namespace`
   * (in the root namespace this is the mesh-wide policy). Istio keeps the oldest
   * when there are several, so implementations return the oldest.
   */
  scopePeerAuthentication(namespace: string): ScopePeerAuthentication | undefined;
  /** True once the view reflects the cluster (always true for a view loaded from files). */
  synced(): boolean;
}
