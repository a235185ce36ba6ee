import type { Operation, PatchOperation } from '../admission/types.js';

export type Mode = 'enforce' | 'dry-run';

export type DecisionKind = 'allow' | 'deny' | 'mutate' | 'would-deny' | 'would-mutate' | 'error';

/** One rule finding, as it appears in responses and decision records. */
export interface Violation {
  rule: string;
  message: string;
  controls: readonly string[];
  /** Set when a configured exemption admitted this violation. */
  exemption?: { reason: string; expires?: string };
}

/** The outcome of evaluating one AdmissionReview, before it is turned into a response. */
export interface Decision {
  decision: DecisionKind;
  mode: Mode;
  violations: Violation[];
  /** Patch operations that enforce mode returns; dry-run reports them as warnings only. */
  patch: PatchOperation[];
  /** Set for `error` decisions: why the review could not be evaluated. */
  errorMessage?: string;
  /** A bug in the guard that caused an `error` decision; logged, never recorded. */
  internalError?: unknown;
}

/** Request metadata that a decision record keeps. It never holds object bodies. */
export interface RequestSummary {
  uid: string;
  operation: Operation | string;
  group: string;
  version: string;
  kind: string;
  subResource: string;
  namespace: string;
  name: string;
  user: { username: string; groups: string[] };
  dryRun: boolean;
}
