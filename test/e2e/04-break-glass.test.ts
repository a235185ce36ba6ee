import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../src/records/record.js';
import { E2eEnvironment, modeLabelKey, phiLabelKey, pod } from './harness/environment.js';

const env = new E2eEnvironment();

/**
 * One change that only the break-glass group may make. Each user tries it in a
 * PHI namespace of their own, named PREFIX-developer and PREFIX-break-glass, so
 * the outcome for one user does not depend on the other's.
 */
interface GuardedChange {
  change: string;
  prefix: string;
  labels: Record<string, string>;
  kubectlArgs: (namespace: string) => string[];
  rule: string;
  /** Which records belong to the change in `namespace`. */
  recordFilter: (namespace: string) => { kind: string; name: string; subResource?: string };
  /** Reads whether the change is in the cluster. */
  applied: (namespace: string) => Promise<boolean>;
}

type Actor = 'developer' | 'break-glass';

async function namespaceLabels(name: string): Promise<Record<string, string>> {
  const namespace = await env.client('admin').read<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return namespace?.metadata?.labels ?? {};
}

const changes: GuardedChange[] = [
  {
    change: 'remove the PHI label',
    prefix: 'e2e-oncall-label',
    labels: { [phiLabelKey]: 'true' },
    kubectlArgs: (namespace) => ['label', 'namespace', namespace, `${phiLabelKey}-`],
    rule: 'namespace-guard',
    recordFilter: (namespace) => ({ kind: 'Namespace', name: namespace }),
    applied: async (namespace) => !(phiLabelKey in (await namespaceLabels(namespace))),
  },
  {
    change: 'switch the namespace to dry-run',
    prefix: 'e2e-oncall-mode',
    labels: { [phiLabelKey]: 'true' },
    kubectlArgs: (namespace) => ['label', 'namespace', namespace, `${modeLabelKey}=dry-run`],
    rule: 'namespace-guard',
    recordFilter: (namespace) => ({ kind: 'Namespace', name: namespace }),
    applied: async (namespace) => (await namespaceLabels(namespace))[modeLabelKey] === 'dry-run',
  },
  {
    // A Namespace is cluster-scoped, so the guard's default mode (enforce)
    // applies to it, not the dry-run label that the namespace itself carries.
    change: 'remove the PHI label from a dry-run namespace',
    prefix: 'e2e-oncall-dry-run',
    labels: { [phiLabelKey]: 'true', [modeLabelKey]: 'dry-run' },
    kubectlArgs: (namespace) => ['label', 'namespace', namespace, `${phiLabelKey}-`],
    rule: 'namespace-guard',
    recordFilter: (namespace) => ({ kind: 'Namespace', name: namespace }),
    applied: async (namespace) => !(phiLabelKey in (await namespaceLabels(namespace))),
  },
  {
    change: 'add an ephemeral debug container',
    prefix: 'e2e-oncall-debug',
    labels: { [phiLabelKey]: 'true' },
    kubectlArgs: (namespace) => ['debug', `--namespace=${namespace}`, 'pod/patient-api', '--image=registry.example.org/debug-tools:1.0'],
    rule: 'pod-interactive-access',
    recordFilter: () => ({ kind: 'Pod', name: 'patient-api', subResource: 'ephemeralcontainers' }),
    applied: async (namespace) => {
      const stored = await env.client('admin').read<V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'patient-api', namespace } });
      return (stored?.spec?.ephemeralContainers ?? []).length > 0;
    },
  },
];

const actors: Actor[] = ['developer', 'break-glass'];

function namespaceOf(change: GuardedChange, actor: Actor): string {
  return `${change.prefix}-${actor}`;
}

function byUser(records: DecisionRecord[], username: string): DecisionRecord[] {
  return records.filter((record) => record.user.username === username);
}

beforeAll(async () => {
  for (const change of changes) {
    for (const actor of actors) {
      const namespace = namespaceOf(change, actor);
      await env.createNamespace(namespace, change.labels);
      if (change.rule === 'pod-interactive-access') {
        await env.client('admin').create(pod(namespace, 'patient-api'));
      }
    }
  }
  for (const change of changes) {
    for (const actor of actors) {
      await env.waitForGuardView(namespaceOf(change, actor), change.labels[modeLabelKey] === 'dry-run' ? 'dry-run' : 'enforce');
    }
  }
});

describe.each(changes)('$change', (change) => {
  it('is rejected for an ordinary user, and recorded', async () => {
    const namespace = namespaceOf(change, 'developer');

    const result = await env.kubectl('developer', change.kubectlArgs(namespace));

    expect(result.stderr).toMatch(new RegExp(`^Error from server \\(Forbidden\\): admission webhook "[a-z.-]+" denied the request: \\[${change.rule}\\] User dev@example\\.org `));
    expect(result.status).toBe(1);
    expect(await change.applied(namespace)).toBe(false);
    const records = byUser(await env.recordsFor({ namespace, ...change.recordFilter(namespace) }), env.settings.users.developer.name);
    const denial = records.find((record) => record.decision === 'deny');
    expect(denial?.violations.map((violation) => violation.rule)).toEqual([change.rule]);
  });

  it('is allowed for the break-glass group, and recorded', async () => {
    const namespace = namespaceOf(change, 'break-glass');

    const result = await env.kubectl('break-glass', change.kubectlArgs(namespace));

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(await change.applied(namespace)).toBe(true);
    const records = byUser(await env.recordsFor({ namespace, ...change.recordFilter(namespace) }), env.settings.users.breakGlass.name);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((record) => record.decision === 'allow' && record.user.groups.includes('phi-break-glass'))).toBe(true);
  });
});

describe('label removal by an ordinary user', () => {
  it('shows the guard\'s exact message', async () => {
    await env.createNamespace('e2e-oncall-message', { [phiLabelKey]: 'true' });
    await env.waitForGuardView('e2e-oncall-message', 'enforce');

    const result = await env.kubectl('developer', ['label', 'namespace', 'e2e-oncall-message', `${phiLabelKey}-`]);

    expect(result.stderr).toBe(
      'Error from server (Forbidden): admission webhook "namespaces.phi-mesh-guard.io" denied the request: [namespace-guard] ' +
        'User dev@example.org removes label phi-mesh-guard.io/phi from Namespace e2e-oncall-message, which holds PHI; ' +
        "removing or changing the PHI label is limited to the break-glass users and groups in the guard's configuration. Ask one of them to make this change.\n",
    );
  });
});
