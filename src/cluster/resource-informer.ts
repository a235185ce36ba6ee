import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';

/** One page of a list call, with the API's own field names already read. */
export interface ListPage {
  items: unknown[];
  resourceVersion?: string;
  continueToken?: string;
}

export interface ResourceInformerOptions<T extends KubernetesObject> {
  /** The resource's plural name, for logs: `namespaces`, `peerauthentications`. */
  resource: string;
  kubeConfig: KubeConfig;
  /** The collection path that is watched, such as `/api/v1/namespaces`. */
  path: string;
  /**
   * Lists one page; the informer follows continue tokens until the list is complete.
   * The request must end when `signal` aborts, at the list timeout or at `stop()`.
   */
  listPage: (continueToken: string | undefined, signal: AbortSignal) => Promise<ListPage>;
  /**
   * Reduces an object to the few fields the view keeps. It is applied to list items
   * and watch events before the client's cache receives them, so no whole object stays
   * in memory. It must not throw and must keep `metadata.name`, `metadata.namespace`
   * and `metadata.resourceVersion`.
   */
  trim: (object: unknown) => T;
  onUpsert: (object: T) => void;
  onDelete: (object: T) => void;
  /** Called each time a full list has been applied. */
  onListed: () => void;
  /**
   * Called for every list or watch failure; returning `handled` skips the retry,
   * and the caller then stops this informer itself.
   */
  onError?: (error: unknown) => 'retry' | 'handled';
  logger: Logger;
  retry: { initialMs: number; maxMs: number };
  /** Limit for a complete list with all its pages, and for the API server to accept a watch. */
  requestTimeoutMs: number;
  /** Server-side watch timeout. Each watch requests a random value between this and twice this. */
  watchTimeoutSeconds: number;
}

/**
 * Extra time past the server-side watch timeout before the client drops a watch the server should have ended.
 * NOTE: a connection that dies without FIN or RST is noticed only then or by TCP keepalive, so until
 * then the view may miss changes while it still counts as synced.
 */
const watchDeadlineGraceMs = 30_000;
/** A watch that ends without error sooner than this after it opened is reopened after a backoff delay. */
const shortWatchMs = 1_000;

/**
 * A list+watch informer from @kubernetes/client-node (its `ListWatch`, which
 * `makeInformer` returns) with the supervision that its 1.4 release leaves out.
 *
 * How `ListWatch` 1.4.0 behaves (read from dist/cache.js and dist/watch.js):
 * - A watch that ends cleanly is reopened at once from the last resourceVersion.
 * - A 410 Gone, as the watch's HTTP status or as an ERROR event in the stream,
 *   clears the resourceVersion, so the next round lists again, and the list's
 *   deletions are reported for objects that disappeared meanwhile.
 * - Any other failure of the list or the watch emits `error` and stops for good.
 *   This class restarts it after an exponential backoff with jitter.
 * - `ListWatch.stop()` aborts the watch, which also emits `error`; it is ignored here.
 * - A list that completes after `stop()` still opens a watch; the watch wrapper
 *   below refuses to open one once this informer is stopped.
 */
export class ResourceInformer<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly backoff: Backoff;
  /** Delays for watches that end cleanly right after they open, such as behind a misbehaving proxy. */
  private readonly shortWatchBackoff: Backoff;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Aborts list requests in flight when the informer stops. */
  private stopController = new AbortController();
  private stopped = true;
  private listed = false;
  private listApplied = false;
  private restartPending = false;
  /** Time of the first failure since the last watch opened. */
  private downSinceMs: number | undefined;
  /** Time when the informer began (re)opening its watch, until the API server accepts it. */
  private openingSinceMs: number | undefined;

  constructor(private readonly options: ResourceInformerOptions<T>) {
    this.backoff = new Backoff(options.retry);
    this.shortWatchBackoff = new Backoff(options.retry);
    const watch = new SupervisedWatch<T>(withRequestTimeout(options.kubeConfig, options.requestTimeoutMs), {
      beforeWatch: () => this.beforeWatch(),
      isStopped: () => this.stopped,
      connected: () => this.watchConnected(),
      ended: (durationMs, callback) => this.watchEnded(durationMs, callback),
      trim: (object) => options.trim(object),
      timeoutSeconds: () => Math.round(options.watchTimeoutSeconds * (1 + Math.random())),
    });
    this.informer = new ListWatch<T>(options.path, watch, () => this.listAll(), false);
    this.informer.on('add', (object) => options.onUpsert(object));
    this.informer.on('update', (object) => options.onUpsert(object));
    this.informer.on('delete', (object) => options.onDelete(object));
    this.informer.on('error', (error: unknown) => this.handleError(error));
  }

  start(): void {
    this.stopped = false;
    this.restartPending = false;
    if (this.stopController.signal.aborted) {
      this.stopController = new AbortController();
    }
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    await this.informer.stop();
  }

  /** True once a full list has been applied. */
  hasListed(): boolean {
    return this.listed;
  }

  /**
   * Returns when the informer last had no open watch, in epoch milliseconds, or
   * `undefined` while a watch is open. A list or watch that fails counts from its
   * first failure. A reconnect that hangs, as to an unreachable API server, counts
   * from the moment it began, so the view turns stale before TCP gives up.
   */
  failingSince(): number | undefined {
    if (this.downSinceMs === undefined || this.openingSinceMs === undefined) {
      return this.downSinceMs ?? this.openingSinceMs;
    }
    return Math.min(this.downSinceMs, this.openingSinceMs);
  }

  private run(): void {
    this.openingSinceMs ??= Date.now();
    this.informer.start().catch((error: unknown) => this.handleError(error));
  }

  private async listAll(): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
    const signal = AbortSignal.any([this.stopController.signal, timeout]);
    do {
      let page: ListPage;
      try {
        page = await this.options.listPage(continueToken, signal);
      } catch (error) {
        if (timeout.aborted) {
          throw new Error(`list of ${this.options.resource} timed out after ${this.options.requestTimeoutMs} ms`, { cause: error });
        }
        throw error;
      }
      for (const item of page.items) {
        items.push(this.options.trim(item));
      }
      resourceVersion = page.resourceVersion ?? resourceVersion;
      continueToken = page.continueToken === '' ? undefined : page.continueToken;
    } while (continueToken !== undefined);
    // ListWatch applies the items right after this resolves and before it opens the
    // watch, so the watch wrapper reports the list as applied.
    this.listApplied = true;
    return { metadata: { resourceVersion }, items };
  }

  private beforeWatch(): boolean {
    if (this.stopped) {
      return false;
    }
    if (this.listApplied) {
      this.listApplied = false;
      this.listed = true;
      this.options.onListed();
    }
    return true;
  }

  private watchConnected(): void {
    if (this.downSinceMs !== undefined) {
      this.options.logger.info({ resource: this.options.resource, downForMs: Date.now() - this.downSinceMs }, 'watch reconnected');
    }
    this.downSinceMs = undefined;
    this.openingSinceMs = undefined;
    this.backoff.reset();
  }

  /** Reopens at once after a watch that lasted, and after a backoff delay one that ended right away. */
  private watchEnded(durationMs: number, reopen: () => void): void {
    this.openingSinceMs ??= Date.now();
    if (durationMs >= shortWatchMs) {
      this.shortWatchBackoff.reset();
      reopen();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      reopen();
    }, this.shortWatchBackoff.nextDelayMs());
    this.timers.add(timer);
  }

  private handleError(error: unknown): void {
    if (this.stopped) {
      return;
    }
    this.downSinceMs ??= Date.now();
    if (this.options.onError?.(error) === 'handled' || this.restartPending) {
      return;
    }
    this.restartPending = true;
    const delayMs = this.backoff.nextDelayMs();
    this.options.logger.warn(
      {
        resource: this.options.resource,
        attempt: this.backoff.attempts(),
        retryInMs: delayMs,
        downForMs: Date.now() - this.downSinceMs,
        error: describeApiError(error),
      },
      'list or watch failed; retrying',
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.restartPending = false;
      if (!this.stopped) {
        this.run();
      }
    }, delayMs);
    this.timers.add(timer);
  }
}

type WatchCallback = (phase: string, apiObject: unknown, watchObject?: unknown) => void;

interface WatchHooks<T> {
  /** Returns false once the informer is stopped; reports a list applied just before. */
  beforeWatch: () => boolean;
  isStopped: () => boolean;
  /** Reports that the API server accepted a watch with status 200. */
  connected: () => void;
  /** A watch ended without error after `durationMs`; `reopen` hands the end to ListWatch. */
  ended: (durationMs: number, reopen: () => void) => void;
  trim: (object: unknown) => T;
  timeoutSeconds: () => number;
}

/**
 * The client's `Watch`, with objects trimmed before ListWatch caches them, a
 * server-side timeout and a client-side deadline per watch, a backoff delay after
 * a watch that ended at once, and no watch opened after the informer stopped.
 * A failure before the request is sent, such as a failing credential plugin, goes
 * to `done`. The base class rejects instead, and ListWatch leaves that rejection
 * unhandled when it reopens a watch.
 */
class SupervisedWatch<T extends KubernetesObject> extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly hooks: WatchHooks<T>,
  ) {
    super(kubeConfig);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (!this.hooks.beforeWatch()) {
      return new AbortController();
    }
    const timeoutSeconds = this.hooks.timeoutSeconds();
    const startedAt = Date.now();
    let finished = false;
    let deadlinePassed = false;
    let deadline: NodeJS.Timeout | undefined;

    const finish = (error: unknown): void => {
      if (finished) {
        return;
      }
      finished = true;
      clearTimeout(deadline);
      if (deadlinePassed) {
        // Our own abort: reopen at once from the last resourceVersion like a clean end.
        this.hooks.ended(Number.POSITIVE_INFINITY, () => done(null));
      } else if (error === null) {
        this.hooks.ended(Date.now() - startedAt, () => done(null));
      } else {
        done(error);
      }
    };
    const trimmingCallback: WatchCallback = (phase, apiObject) => {
      const keepsObject = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
      callback(phase, keepsObject ? this.hooks.trim(apiObject) : apiObject);
    };

    try {
      const controller = await super.watch(path, { ...queryParams, timeoutSeconds, allowWatchBookmarks: true }, trimmingCallback, finish);
      if (this.hooks.isStopped()) {
        // ListWatch.stop() ran while the request waited for its headers, when ListWatch
        // had no controller to abort yet.
        controller.abort();
        return controller;
      }
      if (!finished) {
        this.hooks.connected();
        deadline = setTimeout(() => {
          deadlinePassed = true;
          controller.abort();
        }, timeoutSeconds * 1000 + watchDeadlineGraceMs);
        deadline.unref();
      }
      return controller;
    } catch (error) {
      finish(error);
      return new AbortController();
    }
  }
}

/**
 * Returns a view of `kubeConfig` whose fetch options carry a timeout. The client's
 * `Watch` 1.4.0 sets no timeout of its own, so a watch request that never gets its
 * response headers would wait forever. node-fetch 2 clears this timeout when the
 * headers arrive, so it does not limit how long the watch then stays open.
 */
function withRequestTimeout(kubeConfig: KubeConfig, timeoutMs: number): KubeConfig {
  const limited = Object.create(kubeConfig) as KubeConfig;
  limited.applyToFetchOptions = async (options) => ({ ...(await kubeConfig.applyToFetchOptions(options)), timeout: timeoutMs });
  return limited;
}

/** Returns the HTTP status of a client error: `ApiException.code` or the watch's `statusCode`. */
export function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') {
    return statusCode;
  }
  return typeof code === 'number' ? code : undefined;
}

/**
 * Describes a client error briefly for logs. `ApiException` messages carry the whole
 * response body and headers, so only the status and the Status message are kept.
 */
export function describeApiError(error: unknown): { statusCode?: number; message: string } {
  const statusCode = statusCodeOf(error);
  const body = (error as { body?: unknown } | null)?.body;
  const statusMessage = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  let message: string;
  if (typeof statusMessage === 'string') {
    message = statusMessage;
  } else if (statusCode !== undefined && (error as { body?: unknown }).body !== undefined) {
    message = `HTTP ${statusCode}`;
  } else if (error instanceof Error) {
    // A failing exec credential plugin yields its empty standard error as the message.
    message = error.message === '' ? `${error.name} without a message` : (error.message.split('\n')[0] ?? '');
  } else {
    message = String(error);
  }
  const trimmed = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  return statusCode === undefined ? { message: trimmed } : { statusCode, message: trimmed };
}
