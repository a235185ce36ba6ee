import type { V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { E2eEnvironment, phiLabelKey, pod } from './harness/environment.js';

const env = new E2eEnvironment();
const namespace = 'e2e-patient-records';

let created: V1Namespace;

beforeAll(async () => {
  created = await env.createNamespace(namespace, { [phiLabelKey]: 'true' });
  await env.waitForGuardView(namespace, 'enforce');
});

describe('PHI namespace', () => {
  it('is stored with istio-injection: enabled', async () => {
    const stored = await env.client('admin').read<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });

    expect(created.metadata?.labels?.['istio-injection']).toBe('enabled');
    expect(stored?.metadata?.labels).toMatchObject({ [phiLabelKey]: 'true', 'istio-injection': 'enabled' });
    const [record] = await env.recordsFor({ kind: 'Namespace', name: namespace });
    expect(record).toMatchObject({ operation: 'CREATE', decision: 'mutate', dryRun: false, user: { username: env.settings.users.admin.name } });
    expect(record?.patch).toEqual([{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }]);
  });
});

describe('pod in a PHI namespace', () => {
  it('is stored with the PHI label and the istio-proxy container', async () => {
    await env.client('developer').create(pod(namespace, 'patient-api'));

    const stored = await env.client('admin').read<V1Pod>({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'patient-api', namespace } });
    expect(stored?.metadata?.labels).toMatchObject({ [phiLabelKey]: 'true', 'sidecar.istio.io/inject': 'true' });
    expect(stored?.spec?.containers.map((container) => container.name)).toEqual(['app', 'istio-proxy']);
    expect(stored?.metadata?.annotations?.['sidecar.istio.io/status']).toContain('istio-proxy');
    const records = await env.recordsFor({ namespace, kind: 'Pod', name: 'patient-api' });
    expect(records.map((record) => record.decision)).toEqual(['mutate', 'allow']);
    expect(records.every((record) => record.user.username === env.settings.users.developer.name)).toBe(true);
  });

  it('is rejected with sidecar.istio.io/inject: "false", with the rule id', async () => {
    const optOut = pod(namespace, 'opt-out', { labels: { 'sidecar.istio.io/inject': 'false' } });

    const rejection = await env.client('developer').rejection('create Pod opt-out', (client) => client.create(optOut));

    expect(rejection.code).toBe(403);
    expect(rejection.reason).toBe('Forbidden');
    expect(rejection.message).toMatch(/^admission webhook "pods\.phi-mesh-guard\.io" denied the request: \[pod-injection-opt-out\] Pod e2e-patient-records\/opt-out sets label sidecar\.istio\.io\/inject: "false"/);
    expect(await env.client('admin').read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'opt-out', namespace } })).toBeUndefined();
  });

  it('is rejected for kubectl with the guard\'s exact message', async () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: opt-out-kubectl
  namespace: ${namespace}
  labels:
    sidecar.istio.io/inject: "false"
spec:
  containers:
    - name: app
      image: registry.example.org/patient-api:1.4.2
`;

    const result = await env.kubectl('developer', ['create', '-f', '-'], manifest);

    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'Error from server (Forbidden): error when creating "STDIN": admission webhook "pods.phi-mesh-guard.io" denied the request: ' +
        '[pod-injection-opt-out] Pod e2e-patient-records/opt-out-kubectl sets label sidecar.istio.io/inject: "false" in metadata.labels; ' +
        "namespace e2e-patient-records holds PHI and Istio's injector skips pods with this label, so the pod would run without a sidecar. " +
        'Remove the label or set it to "true". ' +
        '[pod-sidecar-present] Pod e2e-patient-records/opt-out-kubectl has no istio-proxy container or native sidecar after all mutating webhooks ran, ' +
        'although namespace e2e-patient-records is labelled for injection; namespace e2e-patient-records holds PHI and its pods must run the Istio sidecar. ' +
        'Check that Istio\'s injector webhook is installed and reachable, and that the pod does not set sidecar.istio.io/inject: "false".\n',
    );
    const records = await env.recordsFor({ namespace, kind: 'Pod', name: 'opt-out-kubectl' });
    expect(records.at(-1)).toMatchObject({ decision: 'deny', user: { username: env.settings.users.developer.name } });
    expect(records.at(-1)?.violations.map((violation) => violation.rule)).toEqual(['pod-injection-opt-out', 'pod-sidecar-present']);
  });
});

describe('Deployment in a PHI namespace', () => {
  it('with hostNetwork: true is rejected at apply time', async () => {
    const manifest = `apiVersion: apps/v1
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
`;

    const result = await env.kubectl('developer', ['apply', '-f', '-'], manifest);

    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'Error from server (Forbidden): error when creating "STDIN": admission webhook "workloads.phi-mesh-guard.io" denied the request: ' +
        '[pod-host-network] Deployment e2e-patient-records/claims-sync sets spec.template.spec.hostNetwork to true; ' +
        'namespace e2e-patient-records holds PHI and host-network traffic bypasses the Istio proxy. Remove hostNetwork or set it to false.\n',
    );
    expect(await env.client('admin').read<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'claims-sync', namespace } })).toBeUndefined();
    const [record] = await env.recordsFor({ namespace, kind: 'Deployment', name: 'claims-sync' });
    expect(record).toMatchObject({ group: 'apps', operation: 'CREATE', decision: 'deny', mode: 'enforce' });
  });

  it('without hostNetwork is stored', async () => {
    const manifest = `apiVersion: apps/v1
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
      containers:
        - name: app
          image: registry.example.org/claims-sync:2.0.1
`;

    const result = await env.kubectl('developer', ['apply', '-f', '-'], manifest);

    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('deployment.apps/claims-sync created\n');
    expect(result.status).toBe(0);
  });
});
