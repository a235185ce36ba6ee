import type { PatchOperation } from '../admission/types.js';
import { EvaluationError, GuardError } from '../errors.js';
import type { Rule } from '../rules/rule.js';
import type { EvaluationContext } from './context.js';
import type { Decision, Mode, Violation } from './decision.js';
import { findExemption } from './exemptions.js';
import { effectiveMode } from './mode.js';
import { passthroughReason } from './passthrough.js';

/**
 * Runs every rule that applies to the request and turns the findings into one
 * decision. Modes and exemptions are applied here, once, so rules stay pure.
 *
 * In enforce mode any unexempted violation denies and drops the patch; in dry-run
 * the same outcome becomes `would-deny` or `would-mutate` and no patch is returned.
 * A rule that cannot read the object yields an `error` decision naming the field.
 * `mode` defaults to the request's effective mode; the offline check forces one.
 */
export function evaluate(
  ctx: EvaluationContext,
  rules: readonly Rule[],
  now: Date = new Date(),
  mode: Mode = effectiveMode(ctx),
): Decision {
  if (passthroughReason(ctx) !== undefined) {
    return { decision: 'allow', mode, violations: [], patch: [] };
  }

  const violations: Violation[] = [];
  const patch: PatchOperation[] = [];
  try {
    for (const rule of rules) {
      if (!rule.stages.includes(ctx.stage) || !rule.matches(ctx)) {
        continue;
      }
      for (const message of rule.check?.(ctx) ?? []) {
        violations.push(toViolation(ctx, rule, message, now));
      }
      // The validating endpoint never returns a patch, so it computes none: a
      // patch there would only turn into a misleading `mutate` record.
      if (rule.mutate !== undefined && ctx.stage !== 'validate') {
        patch.push(...rule.mutate(ctx));
      }
    }
  } catch (error) {
    const decision: Decision = { decision: 'error', mode, violations: [], patch: [], errorMessage: describeEvaluationFailure(ctx, error) };
    if (!(error instanceof EvaluationError)) {
      decision.internalError = error;
    }
    return decision;
  }

  const denied = violations.some((violation) => violation.exemption === undefined);
  if (mode === 'dry-run') {
    if (denied) {
      return { decision: 'would-deny', mode, violations, patch };
    }
    return { decision: patch.length > 0 ? 'would-mutate' : 'allow', mode, violations, patch };
  }
  if (denied) {
    return { decision: 'deny', mode, violations, patch: [] };
  }
  return { decision: patch.length > 0 ? 'mutate' : 'allow', mode, violations, patch };
}

function toViolation(ctx: EvaluationContext, rule: Rule, message: string, now: Date): Violation {
  const violation: Violation = { rule: rule.id, message, controls: rule.controls };
  const exemption = findExemption(ctx, rule.id, now);
  if (exemption !== undefined) {
    violation.exemption = { reason: exemption.reason };
    if (exemption.expires !== undefined) {
      violation.exemption.expires = exemption.expires;
    }
  }
  return violation;
}

/** A message for the response and the record; it never includes object content. */
function describeEvaluationFailure(ctx: EvaluationContext, error: unknown): string {
  const subject = `${ctx.kind} ${ctx.namespace === '' ? ctx.name : `${ctx.namespace}/${ctx.name}`}`;
  if (error instanceof EvaluationError) {
    return `cannot evaluate ${subject}: ${error.message}`;
  }
  const code = error instanceof GuardError ? ` (${error.code})` : '';
  return `cannot evaluate ${subject}: internal error in phi-mesh-guard${code}; see the guard's log`;
}
