import { createHash } from 'node:crypto';

import type { PatchOperation } from '../admission/types.js';
import type { Decision, DecisionKind, Mode, RequestSummary, Violation } from '../engine/decision.js';

/** The `prevHash` of the first record in a new chain: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * One line of the decision record log. The field order is part of the format, because
 * `hash` is the SHA-256 of the JSON text of every field before it, in this order.
 */
export interface DecisionRecord {
  seq: number;
  /** ISO 8601 time in UTC, from `Date.prototype.toISOString`. */
  time: string;
  uid: string;
  replica: string;
  operation: string;
  group: string;
  version: string;
  kind: string;
  subResource: string;
  namespace: string;
  name: string;
  user: { username: string; groups: string[] };
  dryRun: boolean;
  mode: Mode;
  decision: DecisionKind;
  violations: Violation[];
  patch: PatchOperation[];
  /** SHA-256 hex of the admitted object, or null when the request carried no object. */
  objectSha256: string | null;
  /** Present only for `error` decisions: `Decision.errorMessage`, or '' when it was unset. */
  error?: string;
  prevHash: string;
  hash: string;
}

/** Everything `buildRecord` needs to produce one record. */
export interface RecordInput {
  request: RequestSummary;
  decision: Decision;
  objectSha256: string | null;
  seq: number;
  time: Date;
  replica: string;
  prevHash: string;
}

/** A record together with its JSON line (without the trailing newline). */
export interface RecordLine {
  record: DecisionRecord;
  line: string;
}

/** Returns the SHA-256 of the UTF-8 encoding of `text`, as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Builds a decision record and its hash. The record copies only the listed metadata
 * fields, so the request and decision may carry anything else without it being stored.
 * Throws a RangeError when `time` is an invalid Date.
 */
export function buildRecord(input: RecordInput): DecisionRecord {
  return buildRecordLine(input).record;
}

/**
 * Builds a decision record and the exact JSON line to store for it. The line is the
 * hashed JSON text with a `hash` member added before its closing brace, so a verifier
 * can recompute the hash from the stored bytes alone.
 */
export function buildRecordLine(input: RecordInput): RecordLine {
  const { request, decision } = input;
  const fields = {
    seq: input.seq,
    time: input.time.toISOString(),
    uid: request.uid,
    replica: input.replica,
    operation: request.operation,
    group: request.group,
    version: request.version,
    kind: request.kind,
    subResource: request.subResource,
    namespace: request.namespace,
    name: request.name,
    user: { username: request.user.username, groups: [...request.user.groups] },
    dryRun: request.dryRun,
    mode: decision.mode,
    decision: decision.decision,
    violations: decision.violations.map(copyViolation),
    patch: decision.patch.map((operation) => ({ op: operation.op, path: operation.path, value: operation.value })),
    objectSha256: input.objectSha256,
  };
  // Spreads keep insertion order, so `error` (when present) and `prevHash` stay last.
  const unhashed: Omit<DecisionRecord, 'hash'> =
    decision.decision === 'error'
      ? { ...fields, error: decision.errorMessage ?? '', prevHash: input.prevHash }
      : { ...fields, prevHash: input.prevHash };

  const hashedText = JSON.stringify(unhashed);
  const hash = sha256Hex(hashedText);
  const record: DecisionRecord = { ...unhashed, hash };
  const line = `${hashedText.slice(0, -1)},"hash":"${hash}"}`;
  return { record, line };
}

function copyViolation(violation: Violation): Violation {
  const copy: Violation = {
    rule: violation.rule,
    message: violation.message,
    controls: [...violation.controls],
  };
  if (violation.exemption !== undefined) {
    const { reason, expires } = violation.exemption;
    copy.exemption = expires === undefined ? { reason } : { reason, expires };
  }
  return copy;
}
