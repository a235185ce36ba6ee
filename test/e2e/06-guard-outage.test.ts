import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eEnvironment, phiLabelKey, pod } from './harness/environment.js';
import type { UserClient } from './harness/kube.js';

const env = new E2eEnvironment();
const namespace = 'e2e-outage';

/** A request made while the guard is stopped, and what the API server does with it. */
interface OutageCase {
  request: string;
  send: (client: UserClient) => Promise<unknown>;
  /** The webhook whose call fails and its path, or undefined when the request must succeed. */
  failing: { webhook: string; path: '/mutate' | '/validate' } | undefined;
}

const meshPlaintextRule = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'outage-mesh-plaintext', namespace: 'istio-system' },
  spec: { host: '*.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } },
};

const cases: OutageCase[] = [
  { request: 'Pod in a PHI namespace', send: (client) => client.create(pod(namespace, 'during-outage')), failing: { webhook: 'pods.phi-mesh-guard.io', path: '/mutate' } },
  // The manifests send pods and workloads only from namespaces labelled PHI.
  { request: 'Pod in a namespace without the PHI label', send: (client) => client.create(pod('default', 'during-outage')), failing: undefined },
  // Namespaces and Istio policies are selected by namespace name alone, so
  // these fail closed in every namespace but the excluded ones.
  {
    request: 'new Namespace',
    send: (client) => client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'e2e-created-during-outage' } }),
    failing: { webhook: 'namespaces.phi-mesh-guard.io', path: '/mutate' },
  },
  {
    request: 'PeerAuthentication in a namespace without the PHI label',
    send: (client) =>
      client.create({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'during-outage', namespace: 'default' }, spec: { mtls: { mode: 'STRICT' } } } as KubernetesObject),
    failing: { webhook: 'istio.phi-mesh-guard.io', path: '/validate' },
  },
  { request: 'Pod in kube-system', send: (client) => client.create(pod('kube-system', 'during-outage')), failing: undefined },
  {
    request: 'ConfigMap in a PHI namespace',
    send: (client) => client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'during-outage', namespace } }),
    failing: undefined,
  },
  // failurePolicy Ignore for istio-system: mesh-wide policies go unchecked
  // while the guard is down, even one that the guard rejects when it is up.
  { request: 'DestinationRule disabling mTLS in istio-system', send: (client) => client.create(meshPlaintextRule), failing: undefined },
];

beforeAll(async () => {
  await env.createNamespace(namespace, { [phiLabelKey]: 'true' });
  await env.waitForGuardView(namespace, 'enforce');
  const { exitCode } = await env.stopGuard();
  expect(exitCode).toBe(0);
});

afterAll(async () => {
  // Later files need the guard, also when a test here failed before the restart.
  await env.startGuard();
  if ((await env.client('admin').read(meshPlaintextRule)) !== undefined) {
    await env.client('admin').call('delete DestinationRule outage-mesh-plaintext', (client) => client.objects.delete(meshPlaintextRule));
  }
});

describe('with the guard stopped', () => {
  it.each(cases.filter((outage) => outage.failing !== undefined))('$request fails closed', async ({ send, failing }) => {
    const rejection = await env.client('admin').rejection('request during the outage', send);

    expect(rejection.code).toBe(500);
    expect(rejection.reason).toBe('InternalError');
    expect(rejection.message).toBe(
      `Internal error occurred: failed calling webhook "${failing!.webhook}": failed to call webhook: ` +
        `Post "${env.settings.guard.url}${failing!.path}?timeout=5s": dial tcp 127.0.0.1:${env.settings.guard.port}: connect: connection refused`,
    );
  });

  it.each(cases.filter((outage) => outage.failing === undefined))('$request is admitted', async ({ send }) => {
    await env.client('admin').call('request during the outage', send);
  });

  it('kubectl shows the API server\'s webhook error', async () => {
    const result = await env.kubectl('developer', ['run', 'kubectl-during-outage', `--namespace=${namespace}`, '--image=registry.example.org/patient-api:1.4.2']);

    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `Error from server (InternalError): Internal error occurred: failed calling webhook "pods.phi-mesh-guard.io": failed to call webhook: ` +
        `Post "${env.settings.guard.url}/mutate?timeout=5s": dial tcp 127.0.0.1:${env.settings.guard.port}: connect: connection refused\n`,
    );
  });
});

describe('after the guard restarts on the same port', () => {
  it('mutates and admits a PHI pod', async () => {
    await env.startGuard();

    await env.client('developer').create(pod(namespace, 'after-restart'));

    const stored = await env.client('admin').read<V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'after-restart', namespace } });
    expect(stored?.metadata?.labels?.[phiLabelKey]).toBe('true');
    expect(stored?.spec?.containers.map((container) => container.name)).toEqual(['app', 'istio-proxy']);
    const records = await env.recordsFor({ namespace, kind: 'Pod', name: 'after-restart' });
    expect(records.map((record) => [record.replica, record.decision])).toEqual([
      ['e2e-guard-2', 'mutate'],
      ['e2e-guard-2', 'allow'],
    ]);
  });

  it('a violating pod is rejected again', async () => {
    const rejection = await env.client('developer').rejection('create a hostNetwork Pod', (client) =>
      client.create(pod(namespace, 'host-network-after-restart', { spec: { hostNetwork: true } })),
    );

    expect(rejection.code).toBe(403);
    expect(rejection.message).toContain('[pod-host-network]');
  });
});
