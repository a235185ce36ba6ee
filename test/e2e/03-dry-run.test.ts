import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2eEnvironment, modeLabelKey, phiLabelKey, pod } from './harness/environment.js';

const env = new E2eEnvironment();
/** A PHI namespace in dry-run mode, as during a migration. */
const dryRunNamespace = 'e2e-claims-migration';
/** A PHI namespace in enforce mode, for server-side dry-run requests. */
const enforceNamespace = 'e2e-claims';

/** Three objects that enforce mode rejects: an opted-out pod, a hostNetwork Deployment and a PERMISSIVE policy. */
function violatingManifest(namespace: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: opt-out
  namespace: ${namespace}
  labels:
    sidecar.istio.io/inject: "false"
spec:
  containers:
    - name: app
      image: registry.example.org/claims-api:3.1.0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: claims-sync
  namespace: ${namespace}
spec:
  selector:
    matchLabels: { app: claims-sync }
  template:
    metadata:
      labels: { app: claims-sync }
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: registry.example.org/claims-sync:2.0.1
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: ${namespace}
spec:
  mtls:
    mode: PERMISSIVE
`;
}

beforeAll(async () => {
  await env.createNamespace(dryRunNamespace, { [phiLabelKey]: 'true', [modeLabelKey]: 'dry-run' });
  await env.createNamespace(enforceNamespace, { [phiLabelKey]: 'true' });
  await env.waitForGuardView(dryRunNamespace, 'dry-run');
  await env.waitForGuardView(enforceNamespace, 'enforce');
});

describe('dry-run namespace', () => {
  it('admits violating objects and kubectl prints the warnings', async () => {
    const result = await env.kubectl('developer', ['apply', '-f', '-'], violatingManifest(dryRunNamespace));

    expect(result.status).toBe(0);
    expect(result.stdout).toBe('pod/opt-out created\ndeployment.apps/claims-sync created\npeerauthentication.security.istio.io/default created\n');
    const warnings = result.stderr.split('\n').filter((line) => line !== '');
    expect(warnings).toEqual([
      'Warning: phi-mesh-guard dry-run: would patch add /metadata/labels/phi-mesh-guard.io~1phi "true"',
      expect.stringMatching(/^Warning: phi-mesh-guard dry-run: would deny \[pod-injection-opt-out\] Pod e2e-claims-migration\/opt-out sets label/),
      expect.stringMatching(/^Warning: phi-mesh-guard dry-run: would deny \[pod-sidecar-present\] Pod e2e-claims-migration\/opt-out has no istio-proxy container/),
      'Warning: phi-mesh-guard dry-run: would deny [pod-host-network] Deployment e2e-claims-migration/claims-sync sets spec.template.spec.hostNetwork to true; ' +
        'namespace e2e-claims-migration holds PHI and host-network traffic bypasses the Istio proxy. Remove hostNetwork or set it to false.',
      'Warning: phi-mesh-guard dry-run: would deny [mtls-strict] PeerAuthentication e2e-claims-migration/default sets spec.mtls.mode to PERMISSIVE; ' +
        'namespace e2e-claims-migration holds PHI and requires STRICT. Set spec.mtls.mode to STRICT.',
    ]);
  });

  it('stores the pod without the guard\'s patch', async () => {
    const stored = await env.client('admin').read<V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'opt-out', namespace: dryRunNamespace } });

    expect(stored?.metadata?.labels).toEqual({ 'sidecar.istio.io/inject': 'false' });
  });

  it.each([
    { kind: 'Pod', name: 'opt-out', decisions: ['would-mutate', 'would-deny'] },
    { kind: 'Deployment', name: 'claims-sync', decisions: ['would-deny'] },
    { kind: 'PeerAuthentication', name: 'default', decisions: ['would-deny'] },
  ])('records $kind as $decisions', async ({ kind, name, decisions }) => {
    const records = await env.recordsFor({ namespace: dryRunNamespace, kind, name });

    expect(records.map((record) => record.decision)).toEqual(decisions);
    expect(records.every((record) => record.mode === 'dry-run' && record.dryRun === false)).toBe(true);
  });

  it('returns the warnings to API clients', async () => {
    const policy: KubernetesObject & { spec: object } = {
      apiVersion: 'security.istio.io/v1beta1',
      kind: 'PeerAuthentication',
      metadata: { name: 'claims-api', namespace: dryRunNamespace },
      spec: { selector: { matchLabels: { app: 'claims-api' } }, mtls: { mode: 'DISABLE' } },
    };

    const { warnings } = await env.client('developer').create(policy);

    expect(warnings).toEqual([
      'phi-mesh-guard dry-run: would deny [mtls-strict] PeerAuthentication e2e-claims-migration/claims-api sets spec.mtls.mode to DISABLE; ' +
        'namespace e2e-claims-migration holds PHI and requires STRICT. Set spec.mtls.mode to STRICT.',
    ]);
  });
});

describe('server-side dry-run request', () => {
  it('is rejected with the same message as the real request', async () => {
    const optOut = pod(enforceNamespace, 'opt-out', { labels: { 'sidecar.istio.io/inject': 'false' } });
    const developer = env.client('developer');

    const dryRun = await developer.rejection('create Pod opt-out with dryRun=All', (client) => client.create(optOut, { dryRun: true }));
    const real = await developer.rejection('create Pod opt-out', (client) => client.create(optOut));

    expect(dryRun.code).toBe(403);
    expect(dryRun.message).toContain('[pod-injection-opt-out]');
    expect(dryRun.message).toBe(real.message);
    const records = await env.recordsFor({ namespace: enforceNamespace, kind: 'Pod', name: 'opt-out' });
    expect(records.map((record) => [record.dryRun, record.decision])).toEqual([
      [true, 'mutate'],
      [true, 'deny'],
      [false, 'mutate'],
      [false, 'deny'],
    ]);
  });

  it('returns the mutated pod and stores nothing', async () => {
    const { object } = await env.client('developer').create(pod(enforceNamespace, 'claims-api'), { dryRun: true });

    expect(object.metadata?.labels).toMatchObject({ [phiLabelKey]: 'true', 'sidecar.istio.io/inject': 'true' });
    expect(object.spec?.containers.map((container) => container.name)).toEqual(['app', 'istio-proxy']);
    expect(await env.client('admin').read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'claims-api', namespace: enforceNamespace } })).toBeUndefined();
    const records = await env.recordsFor({ namespace: enforceNamespace, kind: 'Pod', name: 'claims-api' });
    expect(records.map((record) => [record.dryRun, record.decision])).toEqual([
      [true, 'mutate'],
      [true, 'allow'],
    ]);
  });

  it('through kubectl apply --dry-run=server prints the denial', async () => {
    const result = await env.kubectl('developer', ['apply', '--dry-run=server', '-f', '-'], violatingManifest(enforceNamespace));

    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    const errors = result.stderr.split('\n').filter((line) => line !== '');
    expect(errors.map((line) => /denied the request: \[([a-z-]+)\]/.exec(line)?.[1])).toEqual(['pod-injection-opt-out', 'pod-host-network', 'mtls-strict']);
    expect(await env.client('admin').read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'claims-sync', namespace: enforceNamespace } })).toBeUndefined();
    const [record] = await env.recordsFor({ namespace: enforceNamespace, kind: 'Deployment', name: 'claims-sync' });
    expect(record).toMatchObject({ dryRun: true, decision: 'deny' });
  });
});
