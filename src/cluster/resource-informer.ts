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
  /** Lists one page; the informer follows continue tokens until the list is complete. */
  listPage: (continueToken: string | undefined) => Promise<ListPage>;
  /**
   * Reduces an object to the few fields the view keeps. It is applied to list items
   * and watch events before the client's cache sees them, so no whole object stays
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
  listTimeoutMs: number;
  /** Server-side watch timeout; each watch asks for a random value between this and twice this. */
  watchTimeoutSeconds: number;
}

/** Extra time past the server-side watch timeout before the client drops a silent watch. */
const watchDeadlineGraceMs = 30_000;
/** A watch that ends without error sooner than this is reopened after a backoff delay. */
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
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = true;
  private listed = false;
  private listApplied = false;
  private restartPending = false;
  private downSinceMs: number | undefined;

  constructor(private readonly options: ResourceInformerOptions<T>) {
    this.backoff = new Backoff(options.retry);
    const watch = new SupervisedWatch<T>(options.kubeConfig, {
      beforeWatch: () => this.beforeWatch(),
      connected: () => this.watchConnected(),
      delay: (callback) => this.delay(callback),
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
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
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

  /** When the list or watch started failing, in epoch milliseconds; `undefined` while healthy. */
  failingSince(): number | undefined {
    return this.downSinceMs;
  }

  private run(): void {
    this.informer.start().catch((error: unknown) => this.handleError(error));
  }

  private async listAll(): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    const deadline = Date.now() + this.options.listTimeoutMs;
    do {
      const page = await withTimeout(this.options.listPage(continueToken), deadline - Date.now(), `list of ${this.options.resource}`);
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
    this.backoff.reset();
  }

  private delay(callback: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, this.backoff.nextDelayMs());
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
  /** The API server answered 200 to a watch. */
  connected: () => void;
  /** Runs a callback after the next backoff delay, unless the informer stops first. */
  delay: (callback: () => void) => void;
  trim: (object: unknown) => T;
  timeoutSeconds: () => number;
}

/**
 * The client's `Watch`, with objects trimmed before ListWatch caches them, a
 * server-side timeout and a client-side deadline per watch, a backoff delay after
 * a watch that ended at once, and no watch opened after the informer stopped.
 * A failure before the request is sent (such as a credential plugin that fails)
 * goes to `done`; the base class would reject instead, and ListWatch does not
 * catch that rejection when it reopens a watch.
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
        // Our own abort: reopen from the last resourceVersion like a clean end.
        done(null);
      } else if (error === null && Date.now() - startedAt < shortWatchMs) {
        this.hooks.delay(() => done(null));
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

function withTimeout<V>(promise: Promise<V>, timeoutMs: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.max(0, Math.round(timeoutMs))} ms`)), Math.max(0, timeoutMs));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The HTTP status of a client error: `ApiException.code` or the watch's `statusCode`. */
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
 * A short description of a client error for logs. `ApiException` messages carry the
 * whole response body and headers, so only the status and the Status message are kept.
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
  } else {
    message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  }
  const trimmed = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  return statusCode === undefined ? { message: trimmed } : { statusCode, message: trimmed };
}
