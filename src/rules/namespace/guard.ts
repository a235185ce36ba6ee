import { isBreakGlassUser, isPhiLabels, type EvaluationContext } from '../../engine/context.js';
import type { Mode } from '../../engine/decision.js';
import { EvaluationError } from '../../errors.js';
import type { Rule } from '../rule.js';
import { isNamespaceRequest, namespaceLabels } from './labels.js';

const breakGlassOnly = "is limited to the break-glass users and groups in the guard's configuration. Ask one of them to make this change";

/**
 * Returns the labels the namespace had before this request: from the stored object
 * that the API server sends with UPDATE and DELETE, else from the cluster view.
 */
function previousLabels(ctx: EvaluationContext): Readonly<Record<string, string>> {
  if (ctx.oldObject !== undefined) {
    return namespaceLabels(ctx.oldObject, 'oldObject.');
  }
  const known = ctx.view.namespace(ctx.name);
  if (known === undefined) {
    throw new EvaluationError(`oldObject is missing and the cluster view does not know namespace ${ctx.name}`);
  }
  return known.labels;
}

/** Returns the mode the engine applies to the namespace's objects: a valid mode label, else the default. */
function modeOf(labels: Readonly<Record<string, string>>, ctx: EvaluationContext): Mode {
  const label = labels[ctx.config.modeLabelKey];
  return label === 'enforce' || label === 'dry-run' ? label : ctx.config.defaultMode;
}

/** Builds the first clause of the dry-run message: who changed what on which namespace. */
function describeModeChange(user: string, name: string, label: string | undefined, modeKey: string): string {
  const subject = `Namespace ${name}, which holds PHI`;
  if (label === 'dry-run') {
    return `User ${user} sets label ${modeKey} to dry-run on ${subject}`;
  }
  if (label === undefined) {
    return `User ${user} removes label ${modeKey} from ${subject}, so it falls back to the default mode, dry-run`;
  }
  return (
    `User ${user} sets label ${modeKey} on ${subject}, to a value other than enforce or dry-run, so it falls ` +
    'back to the default mode, dry-run'
  );
}

/**
 * Limits the changes that take a namespace out of the guard's reach to break-glass
 * users: removing or changing the PHI label, switching the namespace to dry-run,
 * and deleting it. It covers every namespace, because what counts is whether the
 * namespace held PHI before the request.
 */
export const namespaceGuard: Rule = {
  id: 'namespace-guard',
  severity: 'high',
  controls: ['164.312(a)(1)', '164.312(c)(1)'],
  summary: 'Only break-glass users may remove the PHI label, switch a PHI namespace to dry-run, or delete a PHI namespace.',
  stages: ['validate'],

  matches(ctx) {
    return isNamespaceRequest(ctx) && (ctx.operation === 'UPDATE' || ctx.operation === 'DELETE');
  },

  check(ctx) {
    const oldLabels = previousLabels(ctx);
    if (!isPhiLabels(oldLabels, ctx.config) || isBreakGlassUser(ctx)) {
      return [];
    }
    const user = ctx.user.username;
    if (ctx.operation === 'DELETE') {
      return [`User ${user} deletes Namespace ${ctx.name}, which holds PHI; deleting a PHI namespace ${breakGlassOnly}.`];
    }

    const messages: string[] = [];
    const labels = namespaceLabels(ctx.object);
    const phiKey = ctx.config.phiLabel.key;
    if (!isPhiLabels(labels, ctx.config)) {
      const change = labels[phiKey] === undefined ? `removes label ${phiKey} from` : `changes label ${phiKey} on`;
      messages.push(
        `User ${user} ${change} Namespace ${ctx.name}, which holds PHI; removing or changing ` +
          `the PHI label ${breakGlassOnly}.`,
      );
    }

    if (modeOf(oldLabels, ctx) !== 'dry-run' && modeOf(labels, ctx) === 'dry-run') {
      const modeKey = ctx.config.modeLabelKey;
      const change = describeModeChange(user, ctx.name, labels[modeKey], modeKey);
      messages.push(`${change}; switching a PHI namespace to dry-run ${breakGlassOnly}.`);
    }
    return messages;
  },
};
