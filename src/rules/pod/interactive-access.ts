import { isBreakGlassUser, isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import type { Rule } from '../rule.js';

/**
 * Pod subresources that open a shell, a stream or a tunnel into a running pod. The API
 * server sends them as CONNECT requests whose kind is an options kind such as
 * PodExecOptions, so they are matched by resource and subresource. Ephemeral
 * containers arrive as an UPDATE of the Pod's `ephemeralcontainers` subresource.
 */
const connectSubresources: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

function isInteractiveAccess(ctx: Pick<EvaluationContext, 'group' | 'resource' | 'subResource' | 'operation'>): boolean {
  if (ctx.group !== '' || ctx.resource !== 'pods') {
    return false;
  }
  if (ctx.operation === 'CONNECT') {
    return connectSubresources.has(ctx.subResource);
  }
  return ctx.operation === 'UPDATE' && ctx.subResource === 'ephemeralcontainers';
}

/**
 * Limits exec, attach, port-forward and debug containers in PHI namespaces to the
 * break-glass users and groups. The engine records every such request, allowed or not.
 */
export const podInteractiveAccess: Rule = {
  id: 'pod-interactive-access',
  severity: 'high',
  controls: ['164.312(a)(1)', '164.312(b)'],
  summary: 'Only break-glass users and groups may exec into, attach to, port-forward to or debug pods in PHI namespaces.',
  stages: ['validate'],

  matches: isInteractiveAccess,

  check(ctx) {
    if (!isPhiNamespace(ctx) || isBreakGlassUser(ctx)) {
      return [];
    }
    const groups = ctx.config.breakGlass.groups;
    const allowed =
      groups.length === 0
        ? 'break-glass users and groups, and no break-glass group is configured'
        : `the break-glass groups ${groups.join(', ')}`;
    const fix =
      groups.length === 0
        ? 'Configure breakGlass.groups in the guard configuration, or use an account listed in breakGlass.users.'
        : 'Use an account in one of these groups.';
    return [
      `User ${ctx.user.username} requested pods/${ctx.subResource} on Pod ${objectRef(ctx)}; namespace ` +
        `${ctx.namespace} holds PHI and exec, attach, port-forward and ephemeral containers are limited to ` +
        `${allowed}. ${fix}`,
    ];
  },
};
