import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Endpoint } from '../admission/response.js';
import type { Decision } from '../engine/decision.js';
import { kindLabel, operationLabel } from './labels.js';

/** The failure behind a request without a decision or with an `error` decision: the `kind` label of `phi_mesh_guard_errors_total`. */
export type ErrorKind = 'invalid_review' | 'body_too_large' | 'evaluation_failed' | 'record_write_failed' | 'internal';

const errorKinds: readonly ErrorKind[] = ['invalid_review', 'body_too_large', 'evaluation_failed', 'record_write_failed', 'internal'];

export interface MetricsOptions {
  /** The notAfter date of the serving certificate in use, read at every scrape. */
  certificateNotAfter?: () => Date;
  /** Whether the cluster view reflects the cluster, read at every scrape. */
  clusterViewSynced?: () => boolean;
  /** Adds Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

const prefix = 'phi_mesh_guard_';

// Evaluation takes a few microseconds for a typical pod and about 0.1 ms for a 1.5 MiB
// object (npm run bench:engine), so the buckets start at 10 µs.
const evaluationBuckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
// A whole request includes TLS, body parsing and the record write, which waits for fdatasync.
const requestBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const recordWriteBuckets = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/**
 * The guard's Prometheus metrics in a registry of their own, so tests and several
 * apps in one process never share series. Request handlers call the `observe*` and
 * `count*` methods; `GET /metrics` serves `registry`.
 */
export class GuardMetrics {
  readonly registry: Registry;

  readonly #reviews: Counter<'endpoint' | 'operation' | 'kind' | 'decision' | 'mode'>;
  readonly #violations: Counter<'rule' | 'exempted'>;
  readonly #errors: Counter<'kind'>;
  readonly #recordsWritten: Counter;
  readonly #recordWriteDuration: Histogram;
  readonly #evaluationDuration: Record<Endpoint, HistogramChild>;
  readonly #requestDuration: Record<Endpoint, HistogramChild>;
  // Label children by joined label values, so the hot path builds no label objects.
  readonly #reviewChildren = new Map<string, CounterChild>();
  readonly #violationChildren = new Map<string, CounterChild>();

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    const registers = [registry];
    this.registry = registry;

    this.#reviews = new Counter({
      name: `${prefix}reviews_total`,
      help: 'AdmissionReviews that got a decision, by endpoint, operation, kind (other for kinds no rule checks), decision and mode.',
      labelNames: ['endpoint', 'operation', 'kind', 'decision', 'mode'],
      registers,
    });
    this.#violations = new Counter({
      name: `${prefix}violations_total`,
      help: 'Rule violations found in reviews that got a decision, by rule id; exempted="true" counts those a configured exemption admitted.',
      labelNames: ['rule', 'exempted'],
      registers,
    });
    this.#errors = new Counter({
      name: `${prefix}errors_total`,
      help:
        'Requests that failed: invalid_review (malformed body or envelope), body_too_large, evaluation_failed (object cannot be evaluated), ' +
        'record_write_failed (answered 500), internal (a bug in the guard).',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of errorKinds) {
      this.#errors.inc({ kind }, 0);
    }
    this.#recordsWritten = new Counter({
      name: `${prefix}records_written_total`,
      help: 'Decision records written and synced to the record file.',
      registers,
    });
    this.#recordWriteDuration = new Histogram({
      name: `${prefix}record_write_duration_seconds`,
      help: 'Time from appending a decision record to its fdatasync, including the batching delay (records.fsyncIntervalMs).',
      buckets: recordWriteBuckets,
      registers,
    });

    const evaluationDuration = new Histogram({
      name: `${prefix}evaluation_duration_seconds`,
      help: 'Time spent evaluating rules for one review, without HTTP, parsing or recording.',
      labelNames: ['endpoint'],
      buckets: evaluationBuckets,
      registers,
    });
    this.#evaluationDuration = { mutate: evaluationDuration.labels('mutate'), validate: evaluationDuration.labels('validate') };
    const requestDuration = new Histogram({
      name: `${prefix}request_duration_seconds`,
      help: 'Time from receiving a review request to sending its response, including body parsing and the record write.',
      labelNames: ['endpoint'],
      buckets: requestBuckets,
      registers,
    });
    this.#requestDuration = { mutate: requestDuration.labels('mutate'), validate: requestDuration.labels('validate') };

    registerScrapeGauges(registry, options);
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: registry, prefix });
    }
  }

  /** Counts one review that got a decision, and each of its violations. */
  countReview(endpoint: Endpoint, operation: string, kind: string, decision: Pick<Decision, 'decision' | 'mode' | 'violations'>): void {
    const operationValue = operationLabel(operation);
    const kindValue = kindLabel(kind);
    const key = `${endpoint}|${operationValue}|${kindValue}|${decision.decision}|${decision.mode}`;
    let child = this.#reviewChildren.get(key);
    if (child === undefined) {
      child = this.#reviews.labels(endpoint, operationValue, kindValue, decision.decision, decision.mode);
      this.#reviewChildren.set(key, child);
    }
    child.inc();

    for (const violation of decision.violations) {
      const exempted = violation.exemption === undefined ? 'false' : 'true';
      const violationKey = `${violation.rule}|${exempted}`;
      let violationChild = this.#violationChildren.get(violationKey);
      if (violationChild === undefined) {
        violationChild = this.#violations.labels(violation.rule, exempted);
        this.#violationChildren.set(violationKey, violationChild);
      }
      violationChild.inc();
    }
  }

  countError(kind: ErrorKind): void {
    this.#errors.inc({ kind });
  }

  observeEvaluation(endpoint: Endpoint, seconds: number): void {
    this.#evaluationDuration[endpoint].observe(seconds);
  }

  observeRequest(endpoint: Endpoint, seconds: number): void {
    this.#requestDuration[endpoint].observe(seconds);
  }

  /** Observes one record append; `written` is false when the append failed. */
  observeRecordWrite(seconds: number, written: boolean): void {
    this.#recordWriteDuration.observe(seconds);
    if (written) {
      this.#recordsWritten.inc();
    }
  }
}

/** Creates the guard's metrics in a fresh registry. */
export function createMetrics(options: MetricsOptions = {}): GuardMetrics {
  return new GuardMetrics(options);
}

/** Gauges whose value is read from the running guard when Prometheus scrapes. */
function registerScrapeGauges(registry: Registry, options: MetricsOptions): void {
  const { certificateNotAfter, clusterViewSynced } = options;
  if (certificateNotAfter !== undefined) {
    new Gauge({
      name: `${prefix}certificate_expiry_seconds`,
      help: 'Seconds until the serving certificate expires (its notAfter); negative once it has expired.',
      registers: [registry],
      collect() {
        this.set((certificateNotAfter().getTime() - Date.now()) / 1000);
      },
    });
  }
  if (clusterViewSynced !== undefined) {
    new Gauge({
      name: `${prefix}cluster_view_synced`,
      help: '1 when the cluster view reflects the cluster (namespaces and PeerAuthentications), else 0.',
      registers: [registry],
      collect() {
        this.set(clusterViewSynced() ? 1 : 0);
      },
    });
  }
}
