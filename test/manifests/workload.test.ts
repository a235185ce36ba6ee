import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { loadBaseObjects, type Manifest, repository, single } from './support.js';

let objects: Manifest[];
let deployment: Manifest;
let pod: Manifest;
let container: Manifest;

beforeAll(async () => {
  objects = await loadBaseObjects();
  deployment = single(objects, 'Deployment', 'phi-mesh-guard');
  pod = deployment.spec.template;
  container = (pod.spec.containers as Manifest[]).find((candidate) => candidate.name === 'phi-mesh-guard')!;
});

function mountAt(path: string): Manifest {
  const mount = (container.volumeMounts as Manifest[]).find((candidate) => candidate.mountPath === path);
  expect(mount, `no volume mounted at ${path}`).toBeDefined();
  return mount!;
}

function volume(name: string): Manifest {
  const found = (pod.spec.volumes as Manifest[]).find((candidate) => candidate.name === name);
  expect(found, `no volume named ${name}`).toBeDefined();
  return found!;
}

describe('Deployment', () => {
  it('runs two replicas and surges before stopping one', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
  });

  it.each([
    ['runAsNonRoot', true],
    ['runAsUser', 65532],
    ['runAsGroup', 65532],
    ['seccompProfile', { type: 'RuntimeDefault' }],
  ])('pod securityContext.%s', (field, expected) => {
    expect(pod.spec.securityContext[field]).toEqual(expected);
  });

  it.each([
    ['runAsNonRoot', true],
    ['runAsUser', 65532],
    ['readOnlyRootFilesystem', true],
    ['allowPrivilegeEscalation', false],
    ['privileged', false],
    ['capabilities', { drop: ['ALL'] }],
    ['seccompProfile', { type: 'RuntimeDefault' }],
  ])('container securityContext.%s', (field, expected) => {
    expect(container.securityContext[field]).toEqual(expected);
  });

  it.each([
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ])('%s gets %s over HTTPS on the webhook port', (probe, path) => {
    expect(container[probe].httpGet).toEqual({ scheme: 'HTTPS', path, port: 'https' });
    expect(container.ports).toContainEqual({ name: 'https', containerPort: 8443, protocol: 'TCP' });
  });

  it.each([
    ['requests', 'cpu'],
    ['requests', 'memory'],
    ['limits', 'cpu'],
    ['limits', 'memory'],
  ])('sets resources.%s.%s', (section, resource) => {
    expect(typeof container.resources[section][resource]).toBe('string');
  });

  it('names the replica from the pod name', () => {
    expect(container.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(container.env).toContainEqual({ name: 'PHI_MESH_GUARD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
  });

  it('mounts the TLS Secret read-only', () => {
    expect(mountAt('/etc/phi-mesh-guard/tls').readOnly).toBe(true);
    expect(volume(mountAt('/etc/phi-mesh-guard/tls').name).secret.secretName).toBe('phi-mesh-guard-tls');
  });

  it('writes records to an emptyDir', () => {
    const mount = mountAt('/var/lib/phi-mesh-guard/records');
    expect(mount.readOnly).toBeUndefined();
    expect(volume(mount.name).emptyDir).toEqual({});
  });

  it('mounts the configuration file the command names', () => {
    expect(container.args).toEqual(['serve', '--config', '/etc/phi-mesh-guard/config.yaml']);
    const mount = mountAt('/etc/phi-mesh-guard/config.yaml');
    expect(mount.subPath).toBe('config.yaml');
    expect(volume(mount.name).configMap.name).toBe('phi-mesh-guard-config');
  });

  it('keeps its pods out of the mesh', () => {
    expect(pod.metadata.labels['sidecar.istio.io/inject']).toBe('false');
    expect(pod.metadata.annotations['sidecar.istio.io/inject']).toBe('false');
    expect(pod.metadata.labels['istio.io/dataplane-mode']).toBe('none');
  });

  it('spreads replicas over nodes and zones', () => {
    const [term] = pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution as Manifest[];
    expect(term!.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(term!.podAffinityTerm.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const [spread] = pod.spec.topologySpreadConstraints as Manifest[];
    expect(spread!.topologyKey).toBe('topology.kubernetes.io/zone');
    expect(spread!.whenUnsatisfiable).toBe('ScheduleAnyway');
    expect(spread!.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('runs at a priority its namespace quota admits', () => {
    expect(pod.spec.priorityClassName).toBe('system-cluster-critical');
    const quota = single(objects, 'ResourceQuota');
    expect(quota.spec.scopeSelector.matchExpressions[0].values).toContain('system-cluster-critical');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(repository, 'Dockerfile'), 'utf8');

  it('runs as the user the Deployment names', () => {
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });

  it('starts the CLI with the mounted configuration', () => {
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/app/dist/cli/main.js"]');
    expect(dockerfile).toContain('CMD ["serve", "--config", "/etc/phi-mesh-guard/config.yaml"]');
  });

  it('installs production dependencies only in the runtime stage', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toContain('npm ci --omit=dev');
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime).toContain('COPY manifests ./manifests');
  });
});

describe('guard configuration', () => {
  it('is valid and points at the mounted paths', () => {
    const configMap = single(objects, 'ConfigMap', 'phi-mesh-guard-config');
    const config = parseConfig(parse(configMap.data['config.yaml'] as string), 'config.yaml');
    expect(config.records.path).toBe('/var/lib/phi-mesh-guard/records/decisions.jsonl');
    expect(config.server.certFile).toBe('/etc/phi-mesh-guard/tls/tls.crt');
    expect(config.server.keyFile).toBe('/etc/phi-mesh-guard/tls/tls.key');
    expect(config.server.port).toBe(8443);
    expect(config.breakGlass.groups).toEqual(['phi-mesh-guard:break-glass']);
  });
});

describe('RBAC', () => {
  it('grants get, list and watch on namespaces and PeerAuthentications only', () => {
    expect(single(objects, 'ClusterRole', 'phi-mesh-guard').rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['security.istio.io'], resources: ['peerauthentications'], verbs: ['get', 'list', 'watch'] },
    ]);
  });

  it('binds the role to the guard service account', () => {
    const binding = single(objects, 'ClusterRoleBinding', 'phi-mesh-guard');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'phi-mesh-guard' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'phi-mesh-guard', namespace: 'phi-mesh-guard' }]);
    expect(deployment.spec.template.spec.serviceAccountName).toBe('phi-mesh-guard');
  });

  it('creates no Role or other binding', () => {
    expect(objects.filter((object) => /Role|Binding/.test(object.kind as string)).map((object) => object.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
  });
});

describe('namespace and networking', () => {
  it('labels the namespace out of the mesh and restricted', () => {
    const labels = single(objects, 'Namespace', 'phi-mesh-guard').metadata.labels;
    expect(labels['istio-injection']).toBe('disabled');
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('Service maps 443 to the webhook port', () => {
    const service = single(objects, 'Service', 'phi-mesh-guard');
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it('PodDisruptionBudget keeps one replica', () => {
    const budget = single(objects, 'PodDisruptionBudget', 'phi-mesh-guard');
    expect(budget.spec.minAvailable).toBe(1);
    expect(budget.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('NetworkPolicy admits the webhook port only', () => {
    const policy = single(objects, 'NetworkPolicy', 'phi-mesh-guard');
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
  });

  it('NetworkPolicy lets out the API server and DNS only', () => {
    const policy = single(objects, 'NetworkPolicy', 'phi-mesh-guard');
    const ports = (policy.spec.egress as Manifest[]).flatMap((rule) => rule.ports as Manifest[]);
    expect(ports).toEqual([
      { protocol: 'TCP', port: 443 },
      { protocol: 'TCP', port: 6443 },
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
  });

  it('every namespaced object lives in the guard namespace', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    for (const object of objects.filter((candidate) => !clusterScoped.has(candidate.kind as string))) {
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe('phi-mesh-guard');
    }
  });
});
