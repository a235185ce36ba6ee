import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import type { TestProject } from 'vitest/node';
import { findBinaries } from './binaries.js';
import { breakGlassGroup, startControlPlane, writeTokenKubeconfig, writeUsersKubeconfig, type ControlPlane } from './control-plane.js';
import { startControlServer } from './control-server.js';
import { injectorWebhookConfiguration, startFakeInjector, type FakeInjector } from './fake-injector.js';
import { buildGuard, guardEntryPoint, GuardProcess, repositoryRoot } from './guard.js';
import { runKubectl, UserClient } from './kube.js';
import { findObject, pointWebhooksAt, renderProjectManifests, type WebhookConfiguration } from './manifests.js';
import { freePort, stopAll, tail, waitUntil } from './processes.js';
import type { E2eSettings } from './settings.js';
import './settings.js';

const guardName = 'phi-mesh-guard';
/** A PHI namespace that only the harness uses, to check that every webhook responds before the tests start. */
const probeNamespace = 'e2e-harness-probe';
const phiLabel = { 'phi-mesh-guard.io/phi': 'true' };

/**
 * Starts etcd, kube-apiserver, the fake Istio injector and the guard, registers
 * the webhook configurations from the project's manifests, and waits until the
 * API server calls every one of them. The returned teardown stops every process
 * and removes the run's folder unless a test failed or PMG_E2E_KEEP is set.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const target = process.env.PHI_MESH_GUARD_E2E_CLUSTER;
  if (target !== undefined && target !== '' && target !== 'local') {
    throw new Error(
      `PHI_MESH_GUARD_E2E_CLUSTER=${target}: this suite starts its own etcd, kube-apiserver and guard as local processes, ` +
        'and running it against an existing cluster is not implemented. Unset the variable to run it locally.',
    );
  }
  const binaries = findBinaries();
  const workDir = await mkdtemp(join(tmpdir(), 'phi-mesh-guard-e2e-'));
  const logFiles = [join(workDir, 'etcd.log'), join(workDir, 'kube-apiserver.log'), join(workDir, 'guard.log'), join(workDir, 'build.log')];
  let injector: FakeInjector | undefined;
  let control: { url: string; close: () => Promise<void> } | undefined;

  const teardown = async (keep: boolean): Promise<void> => {
    await control?.close();
    await stopAll();
    await injector?.close();
    if (keep || process.env.PMG_E2E_KEEP) {
      process.stdout.write(`e2e: logs, records and certificates kept in ${workDir}\n`);
    } else {
      await rm(workDir, { recursive: true, force: true });
    }
  };

  try {
    const build = buildGuard(join(workDir, 'build.log'));
    // Handled by the await below; this keeps a failed build from counting as
    // unhandled while the control plane is still starting.
    build.catch(() => undefined);
    const plane = await startControlPlane(binaries, workDir);
    await build;

    const kubeconfig = join(workDir, 'kubeconfig.yaml');
    await writeUsersKubeconfig(kubeconfig, plane);
    const admin = new UserClient(kubeconfig, 'admin');
    const manifests = renderProjectManifests(binaries.kubectl);
    const apply = (objects: KubernetesObject[]): Promise<void> => applyWithKubectl({ kubectl: binaries.kubectl, kubeconfig, home: workDir }, objects);

    await grantWorkloadRights(admin);
    await installIstioCrds(admin);
    const guardKubeconfig = join(workDir, 'guard-kubeconfig.yaml');
    await apply(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].map((kind) => findObject(manifests.objects, kind, guardName)));
    await writeGuardKubeconfig(admin, plane, guardKubeconfig);

    injector = await startFakeInjector();
    await admin.create(injectorWebhookConfiguration(injector));

    const guard = new GuardProcess({ workDir, kubeconfig: guardKubeconfig, port: await freePort() });
    await guard.start();

    const caPem = await readFile(guard.caFile, 'utf8');
    const mutating = pointWebhooksAt(findObject<WebhookConfiguration>(manifests.objects, 'MutatingWebhookConfiguration', guardName), guard.url, caPem);
    const validating = pointWebhooksAt(findObject<WebhookConfiguration>(manifests.objects, 'ValidatingWebhookConfiguration', guardName), guard.url, caPem);
    await apply([mutating, validating]);
    await waitForWebhooks(admin);

    control = await startControlServer(guard);
    const settings: E2eSettings = {
      workDir,
      apiServer: { url: plane.url, caFile: plane.caFile, adminToken: plane.users.admin.token },
      kubeconfig,
      kubectl: binaries.kubectl,
      kubectlHome: workDir,
      users: {
        admin: { name: plane.users.admin.name, groups: plane.users.admin.groups },
        developer: { name: plane.users.developer.name, groups: plane.users.developer.groups },
        breakGlass: { name: plane.users.breakGlass.name, groups: plane.users.breakGlass.groups },
      },
      guard: { url: guard.url, port: guard.port, caFile: guard.caFile, recordsFile: guard.recordsFile, logFile: guard.logFile, entryPoint: guardEntryPoint },
      controlUrl: control.url,
      webhookNames: { mutating: mutating.webhooks.map((webhook) => webhook.name), validating: validating.webhooks.map((webhook) => webhook.name) },
    };
    project.provide('e2e', settings);
    process.stdout.write(`e2e: Kubernetes ${binaries.kubeVersion}, etcd ${binaries.etcdVersion}, API server ${plane.url}, guard ${guard.url}, folder ${workDir}\n`);
  } catch (error) {
    process.stderr.write(`\ne2e: setup failed: ${(error as Error).message}\n`);
    for (const file of logFiles.filter((candidate) => existsSync(candidate))) {
      process.stderr.write(`\n----- last lines of ${file} -----\n${tail(file)}\n`);
    }
    await teardown(true);
    throw error;
  }

  return async () => {
    const failed = project.vitest.state.getCountOfFailedTests() > 0 || project.vitest.state.getUnhandledErrors().length > 0;
    await teardown(failed);
  };
}

/**
 * Lets the developer and break-glass groups change workloads, Istio policies
 * and namespaces, so that what stops them in the tests is the guard, not RBAC.
 * Namespaces are cluster-scoped, hence a ClusterRoleBinding.
 */
async function grantWorkloadRights(admin: UserClient): Promise<void> {
  const role: V1ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'e2e-workload-editor' },
    rules: [
      { apiGroups: [''], resources: ['pods', 'pods/ephemeralcontainers', 'pods/exec', 'pods/attach', 'pods/portforward', 'configmaps', 'services'], verbs: ['*'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: ['apps', 'batch'], resources: ['*'], verbs: ['*'] },
      { apiGroups: ['security.istio.io', 'networking.istio.io'], resources: ['*'], verbs: ['*'] },
    ],
  };
  const binding: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'e2e-workload-editors' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-workload-editor' },
    subjects: [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' },
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: breakGlassGroup },
    ],
  };
  await admin.create(role);
  await admin.create(binding);
}

/**
 * Creates Istio's root namespace istio-system, which no Istio install creates
 * here, applies test/crds/istio-crds.yaml and waits until every CRD in it is
 * Established.
 */
async function installIstioCrds(admin: UserClient): Promise<void> {
  await admin.create<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  const file = join(repositoryRoot, 'test', 'crds', 'istio-crds.yaml');
  const crds = parseAllDocuments(await readFile(file, 'utf8'))
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null);
  for (const crd of crds) {
    await admin.create(crd);
  }
  for (const crd of crds) {
    await waitUntil(
      `CustomResourceDefinition ${crd.metadata?.name} Established`,
      async () => {
        const current = await admin.read<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: crd.metadata!.name! },
        });
        return current?.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True') ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );
  }
}

/**
 * Applies objects with the built kubectl, so that they carry the
 * last-applied-configuration annotation as after a real `kubectl apply`. A
 * later `kubectl apply` of the project's manifests then replaces the loopback
 * `clientConfig.url` with the manifests' `service`, as an upgrade would,
 * instead of merging the two into an invalid clientConfig.
 */
async function applyWithKubectl(paths: { kubectl: string; kubeconfig: string; home: string }, objects: KubernetesObject[]): Promise<void> {
  const text = objects.map((object) => stringify(object)).join('---\n');
  const result = await runKubectl(paths, 'admin', ['apply', '-f', '-'], text);
  if (result.status !== 0) {
    throw new Error(`kubectl apply failed with exit status ${result.status}: ${result.stderr.trim()}`);
  }
}

/**
 * Writes a kubeconfig with a token of the guard's ServiceAccount, which the
 * project's manifests created and bound to their ClusterRole. The guard's
 * informers therefore run with exactly the rights the manifests grant.
 */
async function writeGuardKubeconfig(admin: UserClient, plane: ControlPlane, kubeconfigFile: string): Promise<void> {
  const { object: tokenRequest } = await admin.call('create a token for ServiceAccount phi-mesh-guard', (client) =>
    client.core.createNamespacedServiceAccountToken({
      name: guardName,
      namespace: guardName,
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
    }),
  );
  await writeTokenKubeconfig(kubeconfigFile, plane, `system:serviceaccount:${guardName}:${guardName}`, tokenRequest.status!.token);
}

/**
 * Waits until the API server calls each registered webhook, because it picks up
 * new configurations a moment after they are stored. The probes cover the
 * guard's namespace mutation, its pod validation, the fake injector and the
 * guard's pod mutation. The pod validation also shows that the guard's cluster
 * view has the probe namespace.
 */
async function waitForWebhooks(admin: UserClient): Promise<void> {
  await waitUntil(
    'the guard to label a new PHI namespace istio-injection: enabled',
    async () => {
      const { object } = await admin.create<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'e2e-mutation-probe', labels: phiLabel } }, { dryRun: true });
      return object.metadata?.labels?.['istio-injection'] === 'enabled' ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  await admin.create<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: probeNamespace, labels: phiLabel } });

  const pod = (name: string, hostNetwork: boolean): V1Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: probeNamespace },
    spec: { hostNetwork, containers: [{ name: 'app', image: 'registry.example.org/app:1' }] },
  });
  await waitUntil(
    'the guard to reject a hostNetwork pod in a PHI namespace',
    async () => {
      try {
        await admin.create(pod('host-network-probe', true), { dryRun: true });
      } catch (error) {
        if ((error as Error).message.includes('[pod-host-network]')) {
          return true;
        }
        throw error;
      }
      return undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  await waitUntil(
    'the fake injector and the guard to mutate a pod in a PHI namespace',
    async () => {
      const { object } = await admin.create(pod('mutation-probe', false), { dryRun: true });
      const injected = (object.spec?.containers ?? []).some((container) => container.name === 'istio-proxy');
      return injected && object.metadata?.labels?.['phi-mesh-guard.io/phi'] === 'true' ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}
