import type { Exemption } from '../config/schema.js';
import type { EvaluationContext } from './context.js';
import { isMap } from './object.js';

/**
 * The first configured exemption that covers `ruleId` for the object in `ctx`
 * and has not expired. An exemption's `expires` date is the last day it applies
 * (UTC); a full timestamp is taken as the exact end.
 *
 * For a Namespace object, `namespace` in the exemption is the namespace's own name.
 */
export function findExemption(ctx: EvaluationContext, ruleId: string, now: Date): Exemption | undefined {
  const namespace = ctx.namespace === '' ? ctx.name : ctx.namespace;
  for (const exemption of ctx.config.exemptions) {
    if (exemption.rule !== ruleId || exemption.kind !== ctx.kind || exemption.namespace !== namespace) {
      continue;
    }
    if (exemption.expires !== undefined && now.getTime() > expiryTime(exemption.expires)) {
      continue;
    }
    if (exemption.name !== undefined ? exemption.name === ctx.name : selectorMatches(exemption, ctx)) {
      return exemption;
    }
  }
  return undefined;
}

function expiryTime(expires: string): number {
  const endOfDay = /^\d{4}-\d{2}-\d{2}$/.test(expires) ? `${expires}T23:59:59.999Z` : expires;
  return Date.parse(endOfDay);
}

function selectorMatches(exemption: Exemption, ctx: EvaluationContext): boolean {
  const metadata = ctx.object !== undefined && isMap(ctx.object.metadata) ? ctx.object.metadata : {};
  const labels = isMap(metadata.labels) ? metadata.labels : {};
  const wanted = exemption.selector?.matchLabels ?? {};
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}
