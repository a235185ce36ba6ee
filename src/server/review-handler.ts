import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { buildResponse, reviewOf, type Endpoint } from '../admission/response.js';
import { parseReview } from '../admission/review.js';
import type { AdmissionRequest, AdmissionReview, AdmissionResponse } from '../admission/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { GuardConfig } from '../config/schema.js';
import type { EvaluationContext } from '../engine/context.js';
import type { Decision, RequestSummary } from '../engine/decision.js';
import { evaluate } from '../engine/evaluate.js';
import { contextFromRequest } from '../engine/request-context.js';
import { RecordWriteError } from '../errors.js';
import { isMap } from '../engine/object.js';
import { findRequestFieldSpan } from './object-span.js';
import type { GuardMetrics } from '../metrics/metrics.js';
import type { Rule } from '../rules/rule.js';

/** The destination of each decision, written before its response is sent. */
export interface DecisionSink {
  append(request: RequestSummary, decision: Decision, objectSha256: string | null): Promise<unknown>;
}

export interface ReviewDependencies {
  config: GuardConfig;
  view: ClusterView;
  rules: readonly Rule[];
  sink: DecisionSink;
  logger: Logger;
  metrics?: GuardMetrics;
  now?: () => Date;
}

export interface ReviewOutcome {
  review: AdmissionReview & { response: AdmissionResponse };
  decision: Decision;
  summary: RequestSummary;
}

/**
 * Evaluates one AdmissionReview body and records the decision before returning
 * the response. Throws InvalidReviewError for a body with no uid to echo, and
 * RecordWriteError when the decision cannot be recorded; the caller maps those to
 * HTTP 400 and 500.
 */
export async function handleReview(body: unknown, endpoint: Endpoint, deps: ReviewDependencies, rawBody?: Buffer): Promise<ReviewOutcome> {
  const parsed = parseReview(body);
  const now = deps.now?.() ?? new Date();

  let decision: Decision;
  let summary: RequestSummary;
  let objectSha256: string | null = null;
  if (parsed.ok) {
    const evaluationStart = performance.now();
    const ctx = contextFromRequest(parsed.request, endpoint, deps.config, deps.view);
    decision = evaluate(ctx, deps.rules, now);
    deps.metrics?.observeEvaluation(endpoint, (performance.now() - evaluationStart) / 1000);
    if (decision.decision === 'error') {
      deps.metrics?.countError(decision.internalError === undefined ? 'evaluation_failed' : 'internal');
    }
    summary = summarize(ctx, parsed.request.uid);
    objectSha256 = hashObject(parsed.request, rawBody);
  } else {
    decision = { decision: 'error', mode: deps.config.defaultMode, violations: [], patch: [], errorMessage: parsed.problem };
    summary = unusableSummary(parsed.uid, body);
    deps.metrics?.countError('invalid_review');
  }

  // The decision line carries the record, which already names the review, so only
  // the rarer error and debug lines need a child logger bound to those ids.
  const reviewLogger = (): Logger =>
    deps.logger.child({ uid: summary.uid, kind: summary.kind, namespace: summary.namespace, name: summary.name, operation: summary.operation });
  if (decision.internalError !== undefined) {
    reviewLogger().error({ err: decision.internalError }, 'rule failed while evaluating a review');
  }

  let record: unknown;
  const writeStart = performance.now();
  try {
    record = await deps.sink.append(summary, decision, objectSha256);
  } catch (error) {
    deps.metrics?.observeRecordWrite((performance.now() - writeStart) / 1000, false);
    throw new RecordWriteError(`cannot record the decision for review ${summary.uid}`, { cause: error });
  }
  deps.metrics?.observeRecordWrite((performance.now() - writeStart) / 1000, true);
  deps.metrics?.countReview(endpoint, summary.operation, summary.kind, decision);
  deps.logger.info({ record }, 'decision');
  if (decision.patch.length > 0 && deps.logger.isLevelEnabled('debug')) {
    reviewLogger().debug({ patch: decision.patch }, 'patch');
  }

  return { review: reviewOf(parsed.apiVersion, buildResponse(summary.uid, decision, endpoint)), decision, summary };
}

function summarize(ctx: EvaluationContext, uid: string): RequestSummary {
  return {
    uid,
    operation: ctx.operation,
    group: ctx.group,
    version: ctx.version,
    kind: ctx.kind,
    subResource: ctx.subResource,
    namespace: ctx.namespace,
    name: ctx.name,
    user: { username: ctx.user.username, groups: [...ctx.user.groups] },
    dryRun: ctx.dryRun,
  };
}

/**
 * SHA-256 of the object (for DELETE, the old object) as the API server sent it: the
 * exact bytes in the raw body when they can be located, else the parsed object
 * serialized again. Locating the bytes avoids a second serialization of every
 * object, the largest cost the guard added to a review in its benchmarks.
 */
function hashObject(request: AdmissionRequest, rawBody: Buffer | undefined): string | null {
  const field = isMap(request.object) ? 'object' : isMap(request.oldObject) ? 'oldObject' : undefined;
  if (field === undefined) {
    return null;
  }
  const span = rawBody === undefined ? undefined : findRequestFieldSpan(rawBody, field);
  const hash = createHash('sha256');
  if (span !== undefined) {
    hash.update(rawBody!.subarray(span.start, span.end));
  } else {
    hash.update(JSON.stringify(request[field]));
  }
  return hash.digest('hex');
}

/** Reads what is safe to read from a review that failed its envelope checks. */
function unusableSummary(uid: string, body: unknown): RequestSummary {
  const request = (body as { request?: Record<string, unknown> }).request ?? {};
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const kind = typeof request.kind === 'object' && request.kind !== null ? (request.kind as Record<string, unknown>) : {};
  return {
    uid,
    operation: text(request.operation),
    group: text(kind.group),
    version: text(kind.version),
    kind: text(kind.kind),
    subResource: text(request.subResource),
    namespace: text(request.namespace),
    name: text(request.name),
    user: { username: '', groups: [] },
    dryRun: request.dryRun === true,
  };
}
