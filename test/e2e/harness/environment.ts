import { readFile } from 'node:fs/promises';
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { DecisionRecord } from '../../../src/records/record.js';
import { runKubectl, UserClient, type KubectlResult, type UserName } from './kube.js';
import { waitUntil } from './processes.js';
import type { E2eSettings } from './settings.js';
import './settings.js';

export const phiLabelKey = 'phi-mesh-guard.io/phi';
export const modeLabelKey = 'phi-mesh-guard.io/mode';

/** How the guard currently treats a namespace, as seen from the outcome of a request. */
export type GuardView = 'enforce' | 'dry-run' | 'outside';

/** The test files' entry to the running cluster and guard. */
export class E2eEnvironment {
  readonly settings: E2eSettings;
  private readonly clients = new Map<UserName, UserClient>();

  constructor() {
    this.settings = inject('e2e');
  }

  client(user: UserName): UserClient {
    let client = this.clients.get(user);
    if (client === undefined) {
      client = new UserClient(this.settings.kubeconfig, user);
      this.clients.set(user, client);
    }
    return client;
  }

  kubectl(user: UserName, args: readonly string[], stdin?: string): Promise<KubectlResult> {
    return runKubectl({ kubectl: this.settings.kubectl, kubeconfig: this.settings.kubeconfig, home: this.settings.kubectlHome }, user, args, stdin);
  }

  /** Every decision record written so far, oldest first. */
  async records(): Promise<DecisionRecord[]> {
    const text = await readFile(this.settings.guard.recordsFile, 'utf8');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as DecisionRecord);
  }

  /** Records about one object, oldest first. */
  async recordsFor(filter: { namespace?: string; kind: string; name: string; subResource?: string }): Promise<DecisionRecord[]> {
    return (await this.records()).filter(
      (record) =>
        record.kind === filter.kind &&
        record.name === filter.name &&
        (filter.namespace === undefined || record.namespace === filter.namespace) &&
        (filter.subResource === undefined || record.subResource === filter.subResource),
    );
  }

  async stopGuard(): Promise<{ exitCode: number | null }> {
    return this.control('stop') as Promise<{ exitCode: number | null }>;
  }

  async startGuard(): Promise<void> {
    await this.control('start');
  }

  private async control(action: 'stop' | 'start'): Promise<unknown> {
    const response = await fetch(`${this.settings.controlUrl}/guard/${action}`, { method: 'POST' });
    const body = (await response.json()) as { error?: string };
    if (!response.ok) {
      throw new Error(`the harness could not ${action} the guard: ${body.error ?? response.status}; see ${this.settings.guard.logFile}`);
    }
    return body;
  }

  /** Creates a namespace as admin, through the guard's namespace mutation. */
  async createNamespace(name: string, labels: Record<string, string>): Promise<V1Namespace> {
    const { object } = await this.client('admin').create<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    return object;
  }

  /**
   * Waits until the guard's cluster view shows `namespace` as `expected`. The
   * guard learns namespace labels from a watch, a moment after the API server
   * stored them, so a test that changes labels waits here before it relies on
   * them. The probe is a server-side dry-run of a hostNetwork pod: the guard
   * rejects it in an enforce PHI namespace, warns about it in a dry-run one,
   * and says nothing elsewhere. Each probe is recorded, with `dryRun: true`.
   */
  async waitForGuardView(namespace: string, expected: GuardView): Promise<void> {
    const probe: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'guard-view-probe', namespace },
      spec: { hostNetwork: true, containers: [{ name: 'app', image: 'registry.example.org/app:1' }] },
    };
    const admin = this.client('admin');
    await waitUntil(
      `the guard to treat namespace ${namespace} as ${expected}`,
      async () => {
        let seen: GuardView;
        try {
          const { warnings } = await admin.create(probe, { dryRun: true });
          seen = warnings.some((warning) => warning.includes('[pod-host-network]')) ? 'dry-run' : 'outside';
        } catch (error) {
          if (!(error as Error).message.includes('[pod-host-network]')) {
            throw error;
          }
          seen = 'enforce';
        }
        if (seen !== expected) {
          throw new Error(`the guard still treats it as ${seen}`);
        }
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  }
}

/** A minimal pod; `extra` is merged into its metadata and spec. */
export function pod(namespace: string, name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Partial<V1Pod['spec']> } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(extra.labels !== undefined ? { labels: extra.labels } : {}),
      ...(extra.annotations !== undefined ? { annotations: extra.annotations } : {}),
    },
    spec: { containers: [{ name: 'app', image: 'registry.example.org/patient-api:1.4.2' }], ...extra.spec },
  };
}
