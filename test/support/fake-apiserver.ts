import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A Kubernetes API server reduced to what the informer cluster view calls: lists
 * and watches of namespaces and PeerAuthentications, and discovery of
 * `security.istio.io`. It runs over plain HTTP on 127.0.0.1, keeps a global
 * resourceVersion counter and an event history per resource. Tests can make it
 * end watches, expire old resourceVersions, fail a watch with an HTTP status,
 * stall lists, go unavailable, or drop the PeerAuthentication CRD.
 */

type ResourceKind = 'namespaces' | 'peerauthentications';
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; resourceVersion: string };
  [key: string]: unknown;
}

interface HistoryEvent {
  type: EventType;
  object: StoredObject;
  resourceVersion: number;
}

interface OpenWatch {
  kind: ResourceKind;
  response: ServerResponse;
  /** The PeerAuthentication version the client watches; events are written in it. */
  version?: string;
}

export interface PeerAuthenticationInput {
  namespace: string;
  name: string;
  /** `spec.mtls.mode`; omitted leaves `spec.mtls` out. */
  mode?: string;
  matchLabels?: Record<string, string>;
  creationTimestamp?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  watch: boolean;
  resourceVersion?: string;
  limit?: string;
  continueToken?: string;
  authorization?: string;
}

export class FakeApiServer {
  /** Every request the server received, in order. */
  readonly requests: RecordedRequest[] = [];

  private readonly namespaces = new Map<string, StoredObject>();
  private readonly policies = new Map<string, StoredObject>();
  private readonly history: Record<ResourceKind, HistoryEvent[]> = { namespaces: [], peerauthentications: [] };
  /** Watches from a resourceVersion below this get a 410 ERROR event, as after etcd compaction. */
  private readonly oldestWatchable: Record<ResourceKind, number> = { namespaces: 0, peerauthentications: 0 };
  private readonly watches = new Set<OpenWatch>();
  private readonly watchFailures: Record<ResourceKind, number[]> = { namespaces: [], peerauthentications: [] };
  private resourceVersion = 100;
  private crdVersions: string[] | undefined = ['v1', 'v1beta1'];
  private preferredVersion: string | undefined = 'v1';
  private unavailable = false;
  private peerAuthenticationServed = true;
  private readonly stalledKinds = new Set<ResourceKind | 'discovery'>();
  /** Requests held without a response until the client gives up. */
  private readonly stalledRequests = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeApiServer> {
    let fake: FakeApiServer | undefined;
    const server = createServer((request, response) => fake?.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeApiServer(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** Returns a KubeConfig for this server. client-node accepts plain HTTP only with `skipTLSVerify`. */
  kubeConfig(): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user' }],
      currentContext: 'fake',
    });
    return kubeConfig;
  }

  /** Writes a kubeconfig file for this server, as `--kubeconfig` and `KUBECONFIG` read it. */
  writeKubeconfig(path: string): void {
    const lines = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      '    cluster:',
      `      server: ${this.url}`,
      '      insecure-skip-tls-verify: true',
      'users:',
      '  - name: fake-user',
      '    user:',
      '      token: fake-token',
      'contexts:',
      '  - name: fake',
      '    context: { cluster: fake, user: fake-user }',
      'current-context: fake',
    ];
    writeFileSync(path, `${lines.join('\n')}\n`);
  }

  async close(): Promise<void> {
    for (const response of this.stalledRequests) {
      response.destroy();
    }
    for (const watch of this.watches) {
      watch.response.destroy();
    }
    this.watches.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Creates or updates a namespace; annotations let tests check that the view drops them. */
  putNamespace(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): void {
    const existing = this.namespaces.get(name);
    const object: StoredObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        uid: `uid-ns-${name}`,
        labels: { 'kubernetes.io/metadata.name': name, ...labels },
        annotations,
        creationTimestamp: (existing?.metadata.creationTimestamp as string | undefined) ?? '2026-01-01T00:00:00Z',
        resourceVersion: '',
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    this.commit('namespaces', existing === undefined ? 'ADDED' : 'MODIFIED', object);
    this.namespaces.set(name, object);
  }

  deleteNamespace(name: string): void {
    const existing = this.namespaces.get(name);
    if (existing !== undefined) {
      this.namespaces.delete(name);
      this.commit('namespaces', 'DELETED', { ...existing, metadata: { ...existing.metadata } });
    }
  }

  putPeerAuthentication(input: PeerAuthenticationInput): void {
    if (this.crdVersions === undefined) {
      throw new Error('the PeerAuthentication CRD is not installed in the fake API server');
    }
    const key = `${input.namespace}/${input.name}`;
    const existing = this.policies.get(key);
    const spec: Record<string, unknown> = {};
    if (input.matchLabels !== undefined) {
      spec.selector = { matchLabels: input.matchLabels };
    }
    if (input.mode !== undefined) {
      spec.mtls = { mode: input.mode };
    }
    const object: StoredObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: {
        name: input.name,
        namespace: input.namespace,
        uid: `uid-pa-${key}`,
        generation: 1,
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec }) },
        creationTimestamp: input.creationTimestamp ?? (existing?.metadata.creationTimestamp as string | undefined) ?? '2026-02-01T00:00:00Z',
        resourceVersion: '',
      },
      spec,
    };
    this.commit('peerauthentications', existing === undefined ? 'ADDED' : 'MODIFIED', object);
    this.policies.set(key, object);
  }

  deletePeerAuthentication(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const existing = this.policies.get(key);
    if (existing !== undefined) {
      this.policies.delete(key);
      this.commit('peerauthentications', 'DELETED', { ...existing, metadata: { ...existing.metadata } });
    }
  }

  /**
   * Removes the CRD as the API server does: every PeerAuthentication is deleted
   * (watchers receive DELETED), open watches end, and the group's paths return 404.
   */
  removePeerAuthenticationCrd(): void {
    for (const [key, object] of this.policies) {
      this.policies.delete(key);
      this.commit('peerauthentications', 'DELETED', { ...object, metadata: { ...object.metadata } });
    }
    this.crdVersions = undefined;
    this.preferredVersion = undefined;
    this.endWatches('peerauthentications');
  }

  /** Installs the CRD; `preferredVersion: null` leaves it out of the discovery document. */
  installPeerAuthenticationCrd(options: { versions?: string[]; preferredVersion?: string | null } = {}): void {
    const versions = options.versions ?? ['v1', 'v1beta1'];
    const preferred = options.preferredVersion === undefined ? versions[0] : options.preferredVersion;
    this.crdVersions = versions;
    this.preferredVersion = preferred ?? undefined;
  }

  /**
   * With `false`, discovery still lists the group but the peerauthentications
   * paths return 404, as when only another CRD of `security.istio.io` is installed.
   */
  setPeerAuthenticationServed(served: boolean): void {
    this.peerAuthenticationServed = served;
  }

  /** While stalled, list and watch requests of `kind` (or discovery requests) get no response at all. */
  stall(kind: ResourceKind | 'discovery', stalled: boolean): void {
    if (stalled) {
      this.stalledKinds.add(kind);
    } else {
      this.stalledKinds.delete(kind);
    }
  }

  /** Stalled requests whose client has not closed the connection yet. */
  stalledRequestCount(): number {
    return this.stalledRequests.size;
  }

  /** Ends open watches cleanly, as the API server does at its watch timeout. */
  endWatches(kind?: ResourceKind): void {
    for (const watch of [...this.watches]) {
      if (kind === undefined || watch.kind === kind) {
        this.watches.delete(watch);
        watch.response.end();
      }
    }
  }

  /**
   * Forgets the history so far, as etcd compaction does: a watch from an older
   * resourceVersion gets an ERROR event with code 410 and ends. With
   * `endOpenWatches`, open watches end first so clients must watch again.
   */
  compact(kind: ResourceKind, endOpenWatches = true): void {
    this.oldestWatchable[kind] = this.resourceVersion;
    this.history[kind] = [];
    if (endOpenWatches) {
      this.endWatches(kind);
    }
  }

  /** Sends an ERROR event with code 410 on open watches and ends them. */
  expireOpenWatches(kind: ResourceKind): void {
    for (const watch of [...this.watches]) {
      if (watch.kind === kind) {
        this.watches.delete(watch);
        watch.response.end(`${JSON.stringify({ type: 'ERROR', object: expiredStatus() })}\n`);
      }
    }
  }

  /** Fails the next watch requests for `kind` with these HTTP statuses, one each. */
  failNextWatches(kind: ResourceKind, ...statusCodes: number[]): void {
    this.watchFailures[kind].push(...statusCodes);
  }

  /** While unavailable, every request gets 503 and open watches are cut without a clean end. */
  setUnavailable(unavailable: boolean): void {
    this.unavailable = unavailable;
    if (unavailable) {
      for (const watch of this.watches) {
        watch.response.destroy();
      }
      this.watches.clear();
    }
  }

  openWatchCount(kind: ResourceKind): number {
    return [...this.watches].filter((watch) => watch.kind === kind).length;
  }

  /** Requests of one kind: `list` or `watch` of a resource, or discovery. */
  countRequests(kind: ResourceKind | 'discovery', watch?: boolean): number {
    return this.requests.filter((request) => {
      if (kind === 'discovery') {
        return request.path === '/apis/security.istio.io';
      }
      return request.path.endsWith(`/${kind}`) && (watch === undefined || request.watch === watch);
    }).length;
  }

  private commit(kind: ResourceKind, type: EventType, object: StoredObject): void {
    this.resourceVersion += 1;
    object.metadata.resourceVersion = String(this.resourceVersion);
    const event: HistoryEvent = { type, object, resourceVersion: this.resourceVersion };
    this.history[kind].push(event);
    for (const watch of this.watches) {
      if (watch.kind === kind) {
        writeEvent(watch, event);
      }
    }
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    this.requests.push({
      method: request.method ?? 'GET',
      path: url.pathname,
      watch,
      ...optional('resourceVersion', url.searchParams.get('resourceVersion')),
      ...optional('limit', url.searchParams.get('limit')),
      ...optional('continueToken', url.searchParams.get('continue')),
      ...optional('authorization', request.headers.authorization ?? null),
    });

    if (this.unavailable) {
      sendStatus(response, 503, 'ServiceUnavailable', 'the fake API server is unavailable');
      return;
    }
    if (request.method !== 'GET') {
      sendStatus(response, 405, 'MethodNotAllowed', `${request.method} is not supported by the fake API server`);
      return;
    }

    const stalledKind = url.pathname === '/apis/security.istio.io' ? 'discovery' : url.pathname.endsWith('/peerauthentications') ? 'peerauthentications' : 'namespaces';
    if (this.stalledKinds.has(stalledKind)) {
      this.stalledRequests.add(response);
      response.on('close', () => this.stalledRequests.delete(response));
      return;
    }

    if (url.pathname === '/api/v1/namespaces') {
      this.listOrWatch('namespaces', url, watch, response);
      return;
    }
    if (url.pathname === '/apis/security.istio.io') {
      this.discover(response);
      return;
    }
    const policyPath = /^\/apis\/security\.istio\.io\/([^/]+)\/peerauthentications$/.exec(url.pathname);
    const version = policyPath?.[1];
    if (version !== undefined && this.peerAuthenticationServed && this.crdVersions?.includes(version)) {
      this.listOrWatch('peerauthentications', url, watch, response, version);
      return;
    }
    sendStatus(response, 404, 'NotFound', 'the server could not find the requested resource');
  }

  private discover(response: ServerResponse): void {
    if (this.crdVersions === undefined) {
      sendStatus(response, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    const versions = this.crdVersions.map((version) => ({ groupVersion: `security.istio.io/${version}`, version }));
    const preferred = versions.find((entry) => entry.version === this.preferredVersion);
    sendJson(response, 200, { kind: 'APIGroup', apiVersion: 'v1', name: 'security.istio.io', versions, ...(preferred ? { preferredVersion: preferred } : {}) });
  }

  private listOrWatch(kind: ResourceKind, url: URL, watch: boolean, response: ServerResponse, version?: string): void {
    const store = kind === 'namespaces' ? this.namespaces : this.policies;
    if (!watch) {
      const all = [...store.values()].sort((a, b) => key(a).localeCompare(key(b))).map((object) => inVersion(object, version));
      const offset = Number(url.searchParams.get('continue') ?? '0');
      const limit = Number(url.searchParams.get('limit') ?? '0');
      const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
      const next = limit > 0 && offset + limit < all.length ? String(offset + limit) : undefined;
      sendJson(response, 200, {
        apiVersion: kind === 'namespaces' ? 'v1' : `security.istio.io/${version}`,
        kind: kind === 'namespaces' ? 'NamespaceList' : 'PeerAuthenticationList',
        metadata: { resourceVersion: String(this.resourceVersion), ...(next ? { continue: next } : {}) },
        items,
      });
      return;
    }

    const failure = this.watchFailures[kind].shift();
    if (failure !== undefined) {
      sendStatus(response, failure, failure === 410 ? 'Expired' : 'InternalError', `watch failed with status ${failure} on request of the test`);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // The API server sends the headers of a watch at once, before any event.
    response.flushHeaders();
    const open: OpenWatch = version === undefined ? { kind, response } : { kind, response, version };
    const from = url.searchParams.get('resourceVersion') ?? '';
    if (from !== '' && from !== '0' && Number(from) < this.oldestWatchable[kind]) {
      response.end(`${JSON.stringify({ type: 'ERROR', object: expiredStatus() })}\n`);
      return;
    }
    if (from === '' || from === '0') {
      for (const object of store.values()) {
        writeEvent(open, { type: 'ADDED', object, resourceVersion: Number(object.metadata.resourceVersion) });
      }
    } else {
      for (const event of this.history[kind]) {
        if (event.resourceVersion > Number(from)) {
          writeEvent(open, event);
        }
      }
    }
    this.watches.add(open);
    response.on('close', () => this.watches.delete(open));
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) {
      const timer = setTimeout(() => {
        this.watches.delete(open);
        response.end();
      }, timeoutSeconds * 1000);
      timer.unref();
      response.on('close', () => clearTimeout(timer));
    }
  }
}

function writeEvent(watch: OpenWatch, event: HistoryEvent): void {
  watch.response.write(`${JSON.stringify({ type: event.type, object: inVersion(event.object, watch.version) })}\n`);
}

function inVersion(object: StoredObject, version: string | undefined): StoredObject {
  return version === undefined ? object : { ...object, apiVersion: `security.istio.io/${version}` };
}

function key(object: StoredObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

function expiredStatus(): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version', reason: 'Expired', code: 410 };
}

function sendStatus(response: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(response, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function sendJson(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

function optional<K extends string>(name: K, value: string | null): Partial<Record<K, string>> {
  return value === null ? {} : ({ [name]: value } as Record<K, string>);
}
