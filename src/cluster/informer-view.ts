import {
  CoreV1Api,
  CustomObjectsApi,
  IsomorphicFetchHttpLibrary,
  type ConfigurationOptions,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../admission/types.js';
import { isMap } from '../engine/object.js';
import { chooseVersion, fetchApiGroup } from './api-discovery.js';
import { Backoff } from './backoff.js';
import { describeApiError, ResourceInformer, statusCodeOf, type ListPage } from './resource-informer.js';
import { isScopeWide, peerAuthenticationMode } from './static-view.js';
import type { ClusterView, MtlsMode, NamespaceInfo, ScopePeerAuthentication } from './view.js';

const istioSecurityGroup = 'security.istio.io';
const peerAuthenticationPlural = 'peerauthentications';

export interface InformerViewOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Istio's root namespace; its namespace-wide PeerAuthentication is the mesh-wide one. */
  rootNamespace: string;
  /** How long a list or watch may keep failing before `synced()` turns false. Default 60 000. */
  stalenessMs?: number;
  /** How often to look for the PeerAuthentication CRD while it is not installed. Default 30 000. */
  crdRecheckMs?: number;
  /** First retry delay after a failed list, watch or discovery; doubles per attempt. Default 1 000. */
  retryInitialMs?: number;
  /** Cap on the retry delay. Default 30 000. */
  retryMaxMs?: number;
  /**
   * Limit for one discovery request, for one complete list with all its pages, and
   * for the API server to accept a watch. Default 60 000.
   */
  requestTimeoutMs?: number;
  /** Items per list page. Default 500. */
  listPageSize?: number;
  /** Server-side timeout asked for each watch; the actual value is random between this and twice this. Default 300. */
  watchTimeoutSeconds?: number;
}

/** The fields of a Namespace that the view keeps, in the shape the client's informer cache needs. */
interface NamespaceEntry extends KubernetesObject {
  metadata: { name: string; resourceVersion?: string; labels: Record<string, string> };
}

/** The fields of a PeerAuthentication that the view keeps. `scope` is null for one with a non-empty selector. */
interface PolicyEntry extends KubernetesObject {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  scope: { mode: MtlsMode; creationTimestamp?: string } | null;
}

/**
 * A cluster view filled by informers: namespaces, and the namespace-wide
 * PeerAuthentications found through API discovery of `security.istio.io`. The
 * request path only reads the maps kept here; it never waits on the API server.
 * Only names, labels, modes and creation timestamps are kept, never whole objects.
 */
export class InformerClusterView implements ClusterView {
  private readonly namespaceMap = new Map<string, NamespaceInfo>();
  private readonly scopePolicies = new Map<string, Map<string, ScopePeerAuthentication>>();
  private readonly namespaceInformer: ResourceInformer<NamespaceEntry>;
  private policyInformer: ResourceInformer<PolicyEntry> | undefined;
  private readonly logger: Logger;
  private readonly stalenessMs: number;
  private readonly crdRecheckMs: number;
  private readonly requestTimeoutMs: number;
  private readonly listPageSize: number;
  private readonly discoveryBackoff: Backoff;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Aborts a discovery request in flight when the view stops. */
  private readonly stopController = new AbortController();
  /** True once PeerAuthentications were listed or found not to exist. */
  private policiesKnown = false;
  private crdMissing = false;
  private reportedSync = false;
  private stopped = false;

  constructor(private readonly options: InformerViewOptions) {
    this.logger = options.logger.child({ component: 'cluster-view' });
    this.stalenessMs = options.stalenessMs ?? 60_000;
    this.crdRecheckMs = options.crdRecheckMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.listPageSize = options.listPageSize ?? 500;
    this.discoveryBackoff = new Backoff(this.retryOptions());

    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.namespaceInformer = new ResourceInformer<NamespaceEntry>({
      ...this.informerOptions(),
      resource: 'namespaces',
      path: '/api/v1/namespaces',
      listPage: async (continueToken, signal): Promise<ListPage> => {
        const list = await core.listNamespace({ limit: this.listPageSize, _continue: continueToken }, abortable(signal));
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion, continueToken: list.metadata?._continue };
      },
      trim: trimNamespace,
      onUpsert: (entry) => this.namespaceMap.set(entry.metadata.name, namespaceInfo(entry)),
      onDelete: (entry) => this.namespaceMap.delete(entry.metadata.name),
      onListed: () => this.reportFirstSync(),
    });
  }

  /** Starts the informers and API discovery without waiting for either; call it once. */
  start(): void {
    this.namespaceInformer.start();
    void this.discoverPolicies(undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    await Promise.all([this.namespaceInformer.stop(), this.policyInformer?.stop()]);
  }

  namespace(name: string): NamespaceInfo | undefined {
    return this.namespaceMap.get(name);
  }

  namespaces(): Iterable<NamespaceInfo> {
    return this.namespaceMap.values();
  }

  scopePeerAuthentication(namespace: string): ScopePeerAuthentication | undefined {
    const policies = this.scopePolicies.get(namespace);
    if (policies === undefined) {
      return undefined;
    }
    let oldest: ScopePeerAuthentication | undefined;
    for (const policy of policies.values()) {
      if (oldest === undefined || isOlder(policy, oldest)) {
        oldest = policy;
      }
    }
    return oldest;
  }

  /**
   * True after the first complete list of namespaces and of PeerAuthentications
   * (or discovery found no PeerAuthentication CRD), unless a list or watch has been
   * failing for longer than `stalenessMs`.
   */
  synced(): boolean {
    if (this.stopped || !this.namespaceInformer.hasListed() || !this.policiesKnown) {
      return false;
    }
    const now = Date.now();
    for (const informer of [this.namespaceInformer, this.policyInformer]) {
      const failingSince = informer?.failingSince();
      if (failingSince !== undefined && now - failingSince > this.stalenessMs) {
        return false;
      }
    }
    return true;
  }

  /**
   * Looks up the preferred version of `security.istio.io` and starts the
   * PeerAuthentication informer for it. `notFoundVersion` is a version whose list
   * just returned 404. When discovery still offers it, the group exists without
   * the PeerAuthentication CRD, which counts as missing until the next recheck.
   */
  private async discoverPolicies(notFoundVersion: string | undefined): Promise<void> {
    let version: string | undefined;
    try {
      const group = await fetchApiGroup(this.options.kubeConfig, istioSecurityGroup, this.requestTimeoutMs, this.stopController.signal);
      version = group === undefined ? undefined : chooseVersion(group);
    } catch (error) {
      if (!this.stopped) {
        const delayMs = this.discoveryBackoff.nextDelayMs();
        this.logger.warn(
          { group: istioSecurityGroup, attempt: this.discoveryBackoff.attempts(), retryInMs: delayMs, error: describeApiError(error) },
          'API discovery failed; retrying',
        );
        this.schedule(delayMs, () => this.discoverPolicies(notFoundVersion));
      }
      return;
    }
    if (this.stopped) {
      return;
    }
    this.discoveryBackoff.reset();
    if (version === undefined || version === notFoundVersion) {
      this.markPolicyCrdMissing();
      this.schedule(this.crdRecheckMs, () => this.discoverPolicies(undefined));
      return;
    }
    this.watchPolicies(version);
  }

  private watchPolicies(version: string): void {
    const custom = this.options.kubeConfig.makeApiClient(CustomObjectsApi);
    const informer: ResourceInformer<PolicyEntry> = new ResourceInformer<PolicyEntry>({
      ...this.informerOptions(),
      resource: peerAuthenticationPlural,
      path: `/apis/${istioSecurityGroup}/${version}/${peerAuthenticationPlural}`,
      listPage: async (continueToken, signal): Promise<ListPage> => {
        const list = (await custom.listClusterCustomObject(
          { group: istioSecurityGroup, version, plural: peerAuthenticationPlural, limit: this.listPageSize, _continue: continueToken },
          abortable(signal),
        )) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
        return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion, continueToken: list.metadata?.continue };
      },
      trim: trimPolicy,
      onUpsert: (entry) => this.upsertPolicy(entry),
      onDelete: (entry) => this.removePolicy(entry.metadata.namespace, entry.metadata.name),
      onListed: () => {
        if (this.crdMissing) {
          this.logger.info({ group: istioSecurityGroup, version }, 'PeerAuthentication CRD found; watching PeerAuthentications');
          this.crdMissing = false;
        }
        this.policiesKnown = true;
        this.reportFirstSync();
      },
      onError: (error) => {
        if (statusCodeOf(error) !== 404) {
          return 'retry';
        }
        this.dropPolicyInformer(informer, version);
        return 'handled';
      },
    });
    this.policyInformer = informer;
    informer.start();
  }

  /** Handles a 404 from the list or watch, which means the CRD, or this version of it, is gone. */
  private dropPolicyInformer(informer: ResourceInformer<PolicyEntry>, version: string): void {
    if (this.policyInformer !== informer) {
      return;
    }
    this.policyInformer = undefined;
    void informer.stop();
    this.scopePolicies.clear();
    void this.discoverPolicies(version);
  }

  private markPolicyCrdMissing(): void {
    if (!this.crdMissing) {
      this.logger.warn(
        { group: istioSecurityGroup, resource: peerAuthenticationPlural, recheckMs: this.crdRecheckMs },
        'PeerAuthentication CRD not installed; treating PeerAuthentications as absent until it appears',
      );
    }
    this.crdMissing = true;
    this.scopePolicies.clear();
    this.policiesKnown = true;
    this.reportFirstSync();
  }

  private upsertPolicy(entry: PolicyEntry): void {
    const { namespace, name } = entry.metadata;
    if (entry.scope === null) {
      // A selector was added since: the policy is no longer namespace-wide.
      this.removePolicy(namespace, name);
      return;
    }
    const policy: ScopePeerAuthentication = { namespace, name, mode: entry.scope.mode };
    if (entry.scope.creationTimestamp !== undefined) {
      policy.creationTimestamp = entry.scope.creationTimestamp;
    }
    let policies = this.scopePolicies.get(namespace);
    if (policies === undefined) {
      policies = new Map();
      this.scopePolicies.set(namespace, policies);
    }
    policies.set(name, Object.freeze(policy));
  }

  private removePolicy(namespace: string, name: string): void {
    const policies = this.scopePolicies.get(namespace);
    if (policies?.delete(name) && policies.size === 0) {
      this.scopePolicies.delete(namespace);
    }
  }

  private reportFirstSync(): void {
    if (this.reportedSync || !this.synced()) {
      return;
    }
    this.reportedSync = true;
    let policyCount = 0;
    for (const policies of this.scopePolicies.values()) {
      policyCount += policies.size;
    }
    this.logger.info(
      {
        namespaces: this.namespaceMap.size,
        namespaceWidePeerAuthentications: policyCount,
        rootNamespace: this.options.rootNamespace,
        meshWideMode: this.scopePeerAuthentication(this.options.rootNamespace)?.mode ?? 'none',
        peerAuthenticationCrd: this.crdMissing ? 'missing' : 'installed',
      },
      'cluster view synced',
    );
  }

  private schedule(delayMs: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) {
        void task();
      }
    }, delayMs);
    this.timers.add(timer);
  }

  private retryOptions(): { initialMs: number; maxMs: number } {
    return { initialMs: this.options.retryInitialMs ?? 1_000, maxMs: this.options.retryMaxMs ?? 30_000 };
  }

  private informerOptions() {
    return {
      kubeConfig: this.options.kubeConfig,
      logger: this.logger,
      retry: this.retryOptions(),
      requestTimeoutMs: this.requestTimeoutMs,
      watchTimeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
    };
  }
}

/**
 * Starts an informer cluster view and returns it at once; `synced()` turns true
 * when the first lists are in. Call `stop()` on shutdown.
 */
export async function startInformerClusterView(options: InformerViewOptions): Promise<InformerClusterView> {
  const view = new InformerClusterView(options);
  view.start();
  return view;
}

const fetchLibrary = new IsomorphicFetchHttpLibrary();

/** Request options for the generated API clients that make `signal` abort the request. */
function abortable(signal: AbortSignal): ConfigurationOptions {
  return {
    httpApi: {
      send: (request: RequestContext) => {
        request.setSignal(signal);
        return fetchLibrary.send(request);
      },
    },
  };
}

/** Istio applies the oldest namespace-wide policy, and the first by name when two share a creation time. */
function isOlder(a: ScopePeerAuthentication, b: ScopePeerAuthentication): boolean {
  const aTime = timestampMs(a.creationTimestamp);
  const bTime = timestampMs(b.creationTimestamp);
  if (aTime !== bTime) {
    return aTime < bTime;
  }
  return a.name < b.name;
}

/** Parses a creation timestamp. A missing or unreadable one sorts first, as Go's zero time does in Istio's sort. */
function timestampMs(timestamp: string | undefined): number {
  const parsed = timestamp === undefined ? Number.NaN : Date.parse(timestamp);
  return Number.isNaN(parsed) ? Number.NEGATIVE_INFINITY : parsed;
}

function namespaceInfo(entry: NamespaceEntry): NamespaceInfo {
  return Object.freeze({ name: entry.metadata.name, labels: Object.freeze({ ...entry.metadata.labels }) });
}

function metadataOf(object: unknown): Record<string, unknown> {
  return isMap(object) && isMap(object.metadata) ? object.metadata : {};
}

function stringField(map: Record<string, unknown>, key: string): string | undefined {
  const value = map[key];
  return typeof value === 'string' ? value : undefined;
}

/** Keeps a Namespace's name, resourceVersion and labels. */
function trimNamespace(object: unknown): NamespaceEntry {
  const metadata = metadataOf(object);
  const labels: Record<string, string> = {};
  if (isMap(metadata.labels)) {
    for (const [key, value] of Object.entries(metadata.labels)) {
      if (typeof value === 'string') {
        labels[key] = value;
      }
    }
  }
  return { metadata: { name: stringField(metadata, 'name') ?? '', resourceVersion: stringField(metadata, 'resourceVersion'), labels } };
}

/** Keeps a PeerAuthentication's name, namespace, resourceVersion and, when namespace-wide, its mode and creation time. */
function trimPolicy(object: unknown): PolicyEntry {
  const metadata = metadataOf(object);
  const entry: PolicyEntry = {
    metadata: {
      name: stringField(metadata, 'name') ?? '',
      namespace: stringField(metadata, 'namespace') ?? '',
      resourceVersion: stringField(metadata, 'resourceVersion'),
    },
    scope: null,
  };
  if (isMap(object) && isScopeWide(object as KubeObject)) {
    const mode = peerAuthenticationMode(object as KubeObject);
    const created = metadata.creationTimestamp;
    if (typeof created === 'string') {
      entry.scope = { mode, creationTimestamp: created };
    } else if (created instanceof Date) {
      entry.scope = { mode, creationTimestamp: created.toISOString() };
    } else {
      entry.scope = { mode };
    }
  }
  return entry;
}
