import { describe, expect, it } from 'vitest';
import type { KubeObject, Operation } from '../../admission/types.js';
import { StaticClusterView } from '../../cluster/static-view.js';
import type { EvaluationContext } from '../../engine/context.js';
import { contextFromRequest } from '../../engine/request-context.js';
import { admissionRequest, makeConfig, namespace, phiNamespace } from '../../../test/support/context.js';
import { podInteractiveAccess } from './interactive-access.js';

const podObject: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'records-api-7c9f5d-x2kq8', namespace: 'billing' },
  spec: { containers: [{ name: 'api', image: 'registry.example.org/billing/records-api:2.4.1' }] },
};

const optionKinds: Readonly<Record<string, string>> = {
  exec: 'PodExecOptions',
  attach: 'PodAttachOptions',
  portforward: 'PodPortForwardOptions',
};

interface AccessOptions {
  subResource: string;
  operation?: Operation;
  resource?: string;
  user?: { username: string; groups?: string[] };
  cluster?: KubeObject[];
  breakGlass?: { groups?: string[]; users?: string[] };
}

/**
 * Builds the context of a pod subresource request as the API server sends it. CONNECT
 * requests carry an options kind as their kind and object, and the resource is `pods`.
 */
function accessContext(options: AccessOptions): EvaluationContext {
  const operation = options.operation ?? (options.subResource === 'ephemeralcontainers' ? 'UPDATE' : 'CONNECT');
  const optionsKind = optionKinds[options.subResource];
  const request = admissionRequest({
    operation,
    namespace: 'billing',
    subResource: options.subResource,
    kind: { group: '', version: 'v1', kind: optionsKind ?? 'Pod' },
    object: optionsKind === undefined ? podObject : { apiVersion: 'v1', kind: optionsKind, command: ['/bin/sh'], stdin: true, tty: true },
    oldObject: optionsKind === undefined ? podObject : null,
    user: options.user ?? { username: 'dana@example.org', groups: ['billing-developers', 'system:authenticated'] },
  });
  request.name = 'records-api-7c9f5d-x2kq8';
  request.resource = { group: '', version: 'v1', resource: options.resource ?? 'pods' };
  const config = makeConfig({ breakGlass: options.breakGlass ?? { groups: ['phi-break-glass', 'sre-oncall'] } });
  return contextFromRequest(request, 'validate', config, new StaticClusterView(options.cluster ?? [phiNamespace('billing')]));
}

describe('pod-interactive-access', () => {
  it('names the user, subresource, pod and groups', () => {
    expect(podInteractiveAccess.check!(accessContext({ subResource: 'exec' }))).toEqual([
      'User dana@example.org requested pods/exec on Pod billing/records-api-7c9f5d-x2kq8; namespace billing holds ' +
        'PHI and exec, attach, port-forward and ephemeral containers are limited to the break-glass groups ' +
        'phi-break-glass, sre-oncall. Use an account in one of these groups.',
    ]);
  });

  it('says when no break-glass group is configured', () => {
    const ctx = accessContext({ subResource: 'ephemeralcontainers', breakGlass: { users: ['oncall-admin@example.org'] } });
    expect(podInteractiveAccess.check!(ctx)).toEqual([
      'User dana@example.org requested pods/ephemeralcontainers on Pod billing/records-api-7c9f5d-x2kq8; namespace ' +
        'billing holds PHI and exec, attach, port-forward and ephemeral containers are limited to break-glass users ' +
        'and groups, and no break-glass group is configured. Configure breakGlass.groups in the guard ' +
        'configuration, or use an account listed in breakGlass.users.',
    ]);
  });

  it.each([
    { name: 'exec', subResource: 'exec' },
    { name: 'attach', subResource: 'attach' },
    { name: 'portforward', subResource: 'portforward' },
    { name: 'ephemeralcontainers', subResource: 'ephemeralcontainers' },
  ])('rejects $name by a regular user', ({ subResource }) => {
    const ctx = accessContext({ subResource });
    expect(podInteractiveAccess.matches(ctx)).toBe(true);
    expect(podInteractiveAccess.check!(ctx)).toHaveLength(1);
  });

  it.each([
    { name: 'member of a break-glass group', user: { username: 'erin@example.org', groups: ['system:authenticated', 'sre-oncall'] }, breakGlass: undefined },
    { name: 'listed break-glass user', user: { username: 'oncall-admin@example.org' }, breakGlass: { users: ['oncall-admin@example.org'] } },
  ])('admits a $name', ({ user, breakGlass }) => {
    const ctx = accessContext({ subResource: 'exec', user, ...(breakGlass === undefined ? {} : { breakGlass }) });
    expect(podInteractiveAccess.check!(ctx)).toEqual([]);
  });

  it('ignores namespaces without PHI', () => {
    const ctx = accessContext({ subResource: 'exec', cluster: [namespace('billing')] });
    expect(podInteractiveAccess.check!(ctx)).toEqual([]);
  });

  it.each([
    { name: 'pods/log', subResource: 'log', operation: 'CONNECT' as const, resource: 'pods' },
    { name: 'pods/status UPDATE', subResource: 'status', operation: 'UPDATE' as const, resource: 'pods' },
    { name: 'pods/eviction', subResource: 'eviction', operation: 'CREATE' as const, resource: 'pods' },
    { name: 'exec as UPDATE', subResource: 'exec', operation: 'UPDATE' as const, resource: 'pods' },
    { name: 'ephemeralcontainers as CONNECT', subResource: 'ephemeralcontainers', operation: 'CONNECT' as const, resource: 'pods' },
    { name: 'nodes/proxy', subResource: 'proxy', operation: 'CONNECT' as const, resource: 'nodes' },
    { name: 'services/proxy', subResource: 'proxy', operation: 'CONNECT' as const, resource: 'services' },
  ])('does not match $name', ({ subResource, operation, resource }) => {
    expect(podInteractiveAccess.matches(accessContext({ subResource, operation, resource }))).toBe(false);
  });

  it('does not match a pods resource of another group', () => {
    const ctx = { ...accessContext({ subResource: 'exec' }), group: 'metrics.k8s.io' };
    expect(podInteractiveAccess.matches(ctx)).toBe(false);
  });
});
