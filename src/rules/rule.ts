import type { PatchOperation } from '../admission/types.js';
import type { EvaluationContext, Stage } from '../engine/context.js';
import type { RuleId } from './vocabulary.js';

/** HIPAA Security Rule technical safeguards, by 45 CFR section. */
export type Control =
  | '164.312(a)(1)'
  | '164.312(b)'
  | '164.312(c)(1)'
  | '164.312(d)'
  | '164.312(e)(1)';

export type { RuleId } from './vocabulary.js';

export type Severity = 'critical' | 'high' | 'medium';

/**
 * One named check. A rule is a pure function of the evaluation context: it does no
 * I/O and does not depend on HTTP, modes, exemptions or records, which the engine
 * applies around it.
 */
export interface Rule {
  id: RuleId;
  severity: Severity;
  controls: readonly Control[];
  /** One sentence for docs and `--help`: what the rule keeps out. */
  summary: string;
  /** Stages the rule runs in: webhook endpoints and the offline check. */
  stages: readonly Stage[];
  /** Cheap test on the request's kind, operation and subresource. */
  matches(ctx: EvaluationContext): boolean;
  /** Messages for each violation found; `[]` when the object complies. */
  check?(ctx: EvaluationContext): string[];
  /** JSON Patch operations to apply; `[]` when nothing would change. */
  mutate?(ctx: EvaluationContext): PatchOperation[];
}
