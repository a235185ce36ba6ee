import { describePhiNamespaces as describeNamespaces, phiNamespaceNames } from '../phi-namespaces.js';
import { isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import { optionalList, optionalMap, optionalString, requiredMap, type JsonMap } from '../../engine/object.js';
import { EvaluationError } from '../../errors.js';
import type { Rule } from '../rule.js';
import { describeUnboundedSource } from './source-bounds.js';

const actions: ReadonlySet<string> = new Set(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);

/** Maximum number of PHI namespaces a message lists before it adds "and N more". */

/**
 * Once a workload has an ALLOW policy, a request passes only when some ALLOW rule
 * matches it, and rules are ORed (istio/api security/v1 authorization_policy.proto).
 * One rule that admits any caller therefore opens the workload to every caller, and
 * with it every other ALLOW policy on that workload stops restricting anything.
 *
 * `spec: {}` and ALLOW without rules match nothing ("allow-nothing") and pass. DENY,
 * AUDIT and CUSTOM policies never admit a request that ALLOW policies reject, so they
 * pass too. The policy is checked however it is attached (`selector`, `targetRef`,
 * `targetRefs` or namespace-wide), because each attachment reaches PHI workloads.
 */
export const authzNoWildcardAllow: Rule = {
  id: 'authz-no-wildcard-allow',
  severity: 'high',
  controls: ['164.312(a)(1)'],
  summary: 'ALLOW AuthorizationPolicies that reach PHI namespaces must name their callers by principal, namespace or IP block.',
  stages: ['validate', 'offline'],

  matches(ctx) {
    return (
      ctx.group === 'security.istio.io' &&
      ctx.kind === 'AuthorizationPolicy' &&
      ctx.subResource === '' &&
      (ctx.operation === 'CREATE' || ctx.operation === 'UPDATE')
    );
  },

  check(ctx) {
    const scope = describeScope(ctx);
    if (scope === undefined) {
      return [];
    }

    const spec = optionalMap(ctx.object?.spec, 'spec') ?? {};
    const action = optionalString(spec.action, 'spec.action') ?? 'ALLOW';
    if (!actions.has(action)) {
      throw new EvaluationError('spec.action must be ALLOW, DENY, AUDIT or CUSTOM');
    }
    if (action !== 'ALLOW') {
      return [];
    }

    const messages: string[] = [];
    optionalList(spec.rules, 'spec.rules').forEach((item, index) => {
      const path = `spec.rules[${index}]`;
      const findings = findUnboundedCallers(requiredMap(item, path), path);
      if (findings.length > 0) {
        messages.push(
          `AuthorizationPolicy ${objectRef(ctx)} allows unbounded callers: ${findings.join(', and ')}. ` +
            `${scope}, so every ALLOW rule must name its callers by principal, namespace or IP block. ` +
            `Name the callers of ${path} in from.source by principals ` +
            '(such as "cluster.local/ns/<namespace>/sa/<service-account>"), namespaces or ipBlocks, or remove the rule.',
        );
      }
    });
    return messages;
  },
};

/**
 * Describes how the policy reaches PHI workloads, or returns `undefined` when it
 * reaches no PHI namespace. A policy in the root namespace applies to workloads in
 * every namespace, and so does its selector (istio/api security/v1
 * authorization_policy.proto, field `selector`).
 */
function describeScope(ctx: EvaluationContext): string | undefined {
  if (ctx.namespace === ctx.config.rootNamespace) {
    // The guard only protects PHI namespaces, so a root-namespace policy matters
    // while the cluster has one. NOTE: labelling a namespace as PHI later does not
    // re-check the root-namespace policies admitted before.
    const phiNamespaces = phiNamespaceNames(ctx);
    if (phiNamespaces.length === 0) {
      return undefined;
    }
    return (
      `In the root namespace ${ctx.namespace} the policy applies to workloads in every namespace, ` +
      `including ${describeNamespaces(phiNamespaces)}`
    );
  }
  return isPhiNamespace(ctx) ? `Namespace ${ctx.namespace} holds PHI` : undefined;
}

/**
 * Describes each way the rule at `path` admits unbounded callers, and returns `[]`
 * when every source is bounded. Entries in `from` are ORed, so one unbounded source
 * is enough.
 *
 * NOTE: `when` conditions on source attributes (`source.principal`,
 * `source.namespace`, `source.ip`) are not taken as bounds. Callers must be named in
 * `from`, where readers and other tools look for them.
 */
function findUnboundedCallers(rule: JsonMap, path: string): string[] {
  if (rule.from === undefined || rule.from === null) {
    return [`${path} has no from, so it admits every caller`];
  }
  const from = optionalList(rule.from, `${path}.from`);
  if (from.length === 0) {
    return [`${path}.from is empty, so it admits every caller`];
  }

  const findings: string[] = [];
  from.forEach((item, index) => {
    const entryPath = `${path}.from[${index}]`;
    const source = optionalMap(requiredMap(item, entryPath).source, `${entryPath}.source`);
    if (source === undefined) {
      findings.push(`${entryPath} has no source, so it admits every caller`);
      return;
    }
    const finding = describeUnboundedSource(source, `${entryPath}.source`);
    if (finding !== undefined) {
      findings.push(finding);
    }
  });
  return findings;
}
