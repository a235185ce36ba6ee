// Objects and AdmissionReviews shared by the HTTP benchmark (run.mjs) and the engine
// benchmark (engine.mjs). Every object is compliant, so the guard takes the path a
// healthy cluster takes: evaluate every rule, record, admit.

/** The PHI namespace that every namespaced benchmark object lives in. */
export const phiNamespace = 'patient-records';

/** The cluster view: a sidecar-mode PHI namespace and STRICT mTLS mesh-wide and in that namespace. */
export const clusterState = [
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: phiNamespace, labels: { 'phi-mesh-guard.io/phi': 'true', 'istio-injection': 'enabled' } },
  },
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'quality-analytics', labels: { 'phi-mesh-guard.io/phi': 'true', 'istio.io/rev': 'stable' } },
  },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system', labels: {} } },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: 'istio-system', creationTimestamp: '2026-01-12T09:30:00Z' },
    spec: { mtls: { mode: 'STRICT' } },
  },
  {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: phiNamespace, creationTimestamp: '2026-01-12T09:31:00Z' },
    spec: { mtls: { mode: 'STRICT' } },
  },
];

const probe = (path, periodSeconds) => ({
  httpGet: { path, port: 'http', scheme: 'HTTP' },
  periodSeconds,
  timeoutSeconds: 2,
  successThreshold: 1,
  failureThreshold: 3,
});

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

function secretEnv(name, secret, key) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Builds the pod template of a records API Deployment: three containers, an init container, env, volumes, probes. */
export function podTemplate(app = 'records-api') {
  return {
    metadata: {
      labels: {
        'app.kubernetes.io/name': app,
        'app.kubernetes.io/part-of': 'patient-records',
        'app.kubernetes.io/version': '2.14.3',
        app,
        version: '2.14.3',
        track: 'stable',
      },
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
        'prometheus.io/path': '/metrics',
        'kubectl.kubernetes.io/restartedAt': '2026-03-02T07:15:41Z',
      },
    },
    spec: {
      serviceAccountName: app,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 45,
      priorityClassName: 'clinical-high',
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': app } },
        },
      ],
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': app } } } },
          ],
        },
      },
      tolerations: [{ key: 'workload-class', operator: 'Equal', value: 'clinical', effect: 'NoSchedule' }],
      initContainers: [
        {
          name: 'migrate',
          image: 'registry.example.org/patient-records/api:2.14.3',
          command: ['/app/bin/migrate', '--to', 'latest', '--lock-timeout', '30s'],
          env: [
            { name: 'RECORDS_DB_HOST', value: 'records-db.internal.example.org' },
            secretEnv('RECORDS_DB_USER', 'records-db-migrator', 'username'),
            secretEnv('RECORDS_DB_PASSWORD', 'records-db-migrator', 'password'),
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          securityContext: restrictedContainer,
        },
      ],
      containers: [
        {
          name: 'api',
          image: 'registry.example.org/patient-records/api:2.14.3',
          imagePullPolicy: 'IfNotPresent',
          args: ['--listen=:8080', '--metrics-listen=:9090', '--shutdown-grace=40s'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'http-metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'RECORDS_DB_HOST', value: 'records-db.internal.example.org' },
            { name: 'RECORDS_DB_PORT', value: '5432' },
            { name: 'RECORDS_DB_NAME', value: 'patient_records' },
            { name: 'RECORDS_DB_SSLMODE', value: 'verify-full' },
            { name: 'RECORDS_DB_SSLROOTCERT', value: '/etc/ssl/hospital/ca-bundle.pem' },
            secretEnv('RECORDS_DB_USER', 'records-db-credentials', 'username'),
            secretEnv('RECORDS_DB_PASSWORD', 'records-db-credentials', 'password'),
            secretEnv('ACCESS_LOG_HMAC_KEY', 'records-api-access-log', 'hmac-key'),
            { name: 'OIDC_ISSUER', value: 'https://login.patients.example.org/realms/patient-portal' },
            { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability.svc.cluster.local:4317' },
            { name: 'OTEL_SERVICE_NAME', value: app },
            { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
            { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
            { name: 'LOG_LEVEL', value: 'info' },
          ],
          envFrom: [{ configMapRef: { name: 'records-api-settings' } }],
          resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } },
          startupProbe: { ...probe('/healthz/started', 5), failureThreshold: 24 },
          readinessProbe: probe('/healthz/ready', 10),
          livenessProbe: probe('/healthz/live', 20),
          lifecycle: { preStop: { exec: { command: ['/bin/sleep', '5'] } } },
          securityContext: restrictedContainer,
          volumeMounts: [
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'hospital-ca', mountPath: '/etc/ssl/hospital', readOnly: true },
            { name: 'settings', mountPath: '/etc/records-api', readOnly: true },
          ],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
        {
          name: 'audit-shipper',
          image: 'registry.example.org/platform/audit-shipper:1.9.0',
          args: ['--input=/var/log/records-api/audit.jsonl', '--output=otlp', '--batch-size=512'],
          env: [
            { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability.svc.cluster.local:4317' },
            secretEnv('AUDIT_SIGNING_KEY', 'records-api-audit', 'signing-key'),
          ],
          resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '128Mi' } },
          readinessProbe: { exec: { command: ['/bin/audit-shipper', 'health'] }, periodSeconds: 15 },
          securityContext: restrictedContainer,
          volumeMounts: [{ name: 'audit-log', mountPath: '/var/log/records-api' }],
        },
        {
          name: 'db-cert-reloader',
          image: 'registry.example.org/platform/cert-reloader:0.7.2',
          args: ['--watch=/etc/ssl/hospital', '--signal=HUP', '--target=api'],
          resources: { requests: { cpu: '5m', memory: '16Mi' }, limits: { memory: '32Mi' } },
          securityContext: restrictedContainer,
          volumeMounts: [{ name: 'hospital-ca', mountPath: '/etc/ssl/hospital', readOnly: true }],
        },
      ],
      volumes: [
        { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
        { name: 'audit-log', emptyDir: { sizeLimit: '1Gi' } },
        { name: 'hospital-ca', configMap: { name: 'hospital-ca-bundle', defaultMode: 420 } },
        { name: 'settings', configMap: { name: 'records-api-settings', items: [{ key: 'settings.yaml', path: 'settings.yaml' }] } },
        {
          name: 'kube-api-access',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
    },
  };
}

/** Builds a Deployment of the records API, as `kubectl apply` sends it. */
export function deployment(name = 'records-api') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: phiNamespace,
      labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'patient-records' },
    },
    spec: {
      replicas: 3,
      revisionHistoryLimit: 5,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: podTemplate(name),
    },
  };
}

/** Builds a ReplicaSet as the Deployment controller creates it. */
export function replicaSet() {
  const template = podTemplate();
  template.metadata.labels['pod-template-hash'] = '6f9c7d8b54';
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'records-api-6f9c7d8b54',
      namespace: phiNamespace,
      labels: { ...template.metadata.labels },
      annotations: { 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4', 'deployment.kubernetes.io/revision': '17' },
      ownerReferences: [ownerReference('Deployment', 'records-api', '0b7d3c55-7a1e-4f44-9d0a-3c2f5f0e8a11')],
    },
    spec: { replicas: 3, selector: { matchLabels: { 'app.kubernetes.io/name': 'records-api', 'pod-template-hash': '6f9c7d8b54' } }, template },
  };
}

function ownerReference(kind, name, uid) {
  return { apiVersion: 'apps/v1', kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/**
 * Builds a Pod as the ReplicaSet controller creates it. Before Istio's injector runs, which
 * is what /mutate receives when the guard's webhook comes first, it has no proxy.
 * `injected` adds what the injector adds and the labels from the guard's mutation, which is
 * what /validate receives.
 */
export function pod({ injected }) {
  const template = podTemplate();
  const object = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'records-api-6f9c7d8b54-',
      labels: { ...template.metadata.labels, 'pod-template-hash': '6f9c7d8b54' },
      annotations: { ...template.metadata.annotations },
      ownerReferences: [ownerReference('ReplicaSet', 'records-api-6f9c7d8b54', '8c1f2a77-90d4-4a57-b3e8-5d9e1c0f4b22')],
    },
    spec: { ...template.spec, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority', schedulerName: 'default-scheduler', dnsPolicy: 'ClusterFirst', restartPolicy: 'Always' },
  };
  if (injected) {
    addIstioSidecar(object);
  }
  return object;
}

function addIstioSidecar(object) {
  const { metadata, spec } = object;
  Object.assign(metadata.labels, {
    'phi-mesh-guard.io/phi': 'true',
    'sidecar.istio.io/inject': 'true',
    'security.istio.io/tlsMode': 'istio',
    'service.istio.io/canonical-name': 'records-api',
    'service.istio.io/canonical-revision': '2.14.3',
  });
  Object.assign(metadata.annotations, {
    'istio.io/rev': 'default',
    'kubectl.kubernetes.io/default-container': 'api',
    'kubectl.kubernetes.io/default-logs-container': 'api',
    'prometheus.io/port': '15020',
    'prometheus.io/path': '/stats/prometheus',
    'sidecar.istio.io/status': JSON.stringify({
      initContainers: ['istio-validation'],
      containers: ['istio-proxy'],
      volumes: ['workload-socket', 'credential-socket', 'workload-certs', 'istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert'],
      imagePullSecrets: null,
      revision: 'default',
    }),
  });
  spec.initContainers = [
    ...spec.initContainers,
    {
      name: 'istio-validation',
      image: 'docker.io/istio/proxyv2:1.28.0',
      args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020', '--log_output_level=default:info', '--run-validation', '--skip-rule-apply'],
      resources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      securityContext: { ...restrictedContainer, runAsUser: 1337, runAsGroup: 1337 },
    },
  ];
  spec.containers = [
    ...spec.containers,
    {
      name: 'istio-proxy',
      image: 'docker.io/istio/proxyv2:1.28.0',
      args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local', '--proxyLogLevel=warning', '--proxyComponentLogLevel=misc:error', '--log_output_level=default:info'],
      ports: [
        { name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' },
        { name: 'istio-admin', containerPort: 15000, protocol: 'TCP' },
      ],
      env: [
        { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
        { name: 'CA_ADDR', value: 'istiod.istio-system.svc:15012' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
        { name: 'INSTANCE_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
        { name: 'SERVICE_ACCOUNT', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.serviceAccountName' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } },
        { name: 'ISTIO_CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '0' } } },
        { name: 'PROXY_CONFIG', value: '{}\n' },
        { name: 'ISTIO_META_POD_PORTS', value: '[\n    {"name":"http","containerPort":8080,"protocol":"TCP"}\n    ,{"name":"http-metrics","containerPort":9090,"protocol":"TCP"}\n]' },
        { name: 'ISTIO_META_APP_CONTAINERS', value: 'api,audit-shipper,db-cert-reloader' },
        { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '0' } } },
        { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '0' } } },
        { name: 'ISTIO_META_CLUSTER_ID', value: 'Kubernetes' },
        { name: 'ISTIO_META_NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
        { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' },
        { name: 'ISTIO_META_WORKLOAD_NAME', value: 'records-api' },
        { name: 'ISTIO_META_OWNER', value: 'kubernetes://apis/apps/v1/namespaces/patient-records/deployments/records-api' },
        { name: 'ISTIO_META_MESH_ID', value: 'cluster.local' },
        { name: 'TRUST_DOMAIN', value: 'cluster.local' },
        { name: 'ISTIO_KUBE_APP_PROBERS', value: '{"/app-health/api/livez":{"httpGet":{"path":"/healthz/live","port":8080,"scheme":"HTTP"},"timeoutSeconds":2},"/app-health/api/readyz":{"httpGet":{"path":"/healthz/ready","port":8080,"scheme":"HTTP"},"timeoutSeconds":2},"/app-health/api/startupz":{"httpGet":{"path":"/healthz/started","port":8080,"scheme":"HTTP"},"timeoutSeconds":2}}' },
      ],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' }, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
      startupProbe: { httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' }, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
      securityContext: { ...restrictedContainer, runAsUser: 1337, runAsGroup: 1337 },
      volumeMounts: [
        { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
        { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
        { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
        { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
        { name: 'istio-data', mountPath: '/var/lib/istio/data' },
        { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
        { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
        { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
      ],
    },
  ];
  spec.volumes = [
    ...spec.volumes,
    { name: 'workload-socket', emptyDir: {} },
    { name: 'credential-socket', emptyDir: {} },
    { name: 'workload-certs', emptyDir: {} },
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    { name: 'istio-data', emptyDir: {} },
    {
      name: 'istio-podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
}

export function peerAuthentication() {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'records-api', namespace: phiNamespace, labels: { 'app.kubernetes.io/part-of': 'patient-records' } },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'records-api' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { 8080: { mode: 'STRICT' }, 9090: { mode: 'UNSET' } },
    },
  };
}

/** Builds an ALLOW AuthorizationPolicy with five rules, each naming bounded callers. */
export function authorizationPolicy() {
  const principal = (namespace, account) => `cluster.local/ns/${namespace}/sa/${account}`;
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'records-api', namespace: phiNamespace },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'records-api' } },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: [principal(phiNamespace, 'records-gateway')], requestPrincipals: ['https://login.patients.example.org/realms/patient-portal/*'] } }],
          to: [{ operation: { methods: ['GET', 'POST', 'PUT', 'PATCH'], paths: ['/api/v2/*'] } }],
        },
        { from: [{ source: { principals: [principal(phiNamespace, 'records-indexer')] } }], to: [{ operation: { methods: ['GET'], paths: ['/internal/v1/changes'] } }] },
        {
          from: [{ source: { principals: [principal('quality-analytics', 'quality-export')] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/api/v2/quality-measures/*'] } }],
          when: [{ key: 'request.headers[x-export-job]', values: ['nightly-*'] }],
        },
        { from: [{ source: { namespaces: ['billing'], principals: ['*'] } }], to: [{ operation: { methods: ['GET'], paths: ['/api/v2/encounters/*/charges'] } }] },
        { from: [{ source: { ipBlocks: ['10.20.0.0/16'], principals: [principal('observability', 'blackbox-exporter')] } }], to: [{ operation: { ports: ['8080'], paths: ['/healthz/*'] } }] },
      ],
    },
  };
}

export function destinationRule() {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'records-api', namespace: phiNamespace },
    spec: {
      host: 'records-api.patient-records.svc.cluster.local',
      trafficPolicy: {
        tls: { mode: 'ISTIO_MUTUAL' },
        connectionPool: { tcp: { maxConnections: 512, connectTimeout: '2s' }, http: { http1MaxPendingRequests: 256, http2MaxRequests: 1000, idleTimeout: '300s' } },
        outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '60s', maxEjectionPercent: 34 },
        loadBalancer: { simple: 'LEAST_REQUEST' },
        portLevelSettings: [
          { port: { number: 8080 }, tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { maxRequestsPerConnection: 100 } } },
          { port: { number: 9090 }, loadBalancer: { simple: 'ROUND_ROBIN' } },
        ],
      },
      subsets: [
        { name: 'stable', labels: { track: 'stable' } },
        {
          name: 'canary',
          labels: { track: 'canary' },
          trafficPolicy: {
            tls: { mode: 'ISTIO_MUTUAL' },
            portLevelSettings: [{ port: { number: 8080 }, tls: { mode: 'ISTIO_MUTUAL' }, connectionPool: { http: { maxRequestsPerConnection: 10 } } }],
          },
        },
      ],
    },
  };
}

/**
 * Grows `object` to about `targetBytes` of JSON by adding copies of the records API's
 * main container to `containers`, then fills the rest with an annotation. Evaluation
 * reads every container, so its cost follows the size.
 */
function growTo(object, containers, targetBytes) {
  const model = podTemplate().spec.containers[0];
  const modelBytes = JSON.stringify(model).length;
  let index = 0;
  while (JSON.stringify(object).length + modelBytes < targetBytes) {
    index += 1;
    containers.push({ ...model, name: `worker-${index}`, env: model.env.map((entry) => ({ ...entry })) });
  }
  // The rest goes into an annotation, as a last-applied configuration would.
  const missing = targetBytes - JSON.stringify(object).length - 40;
  if (missing > 0) {
    object.metadata.annotations = { ...object.metadata.annotations, 'example.org/notes': 'x'.repeat(missing) };
  }
  return object;
}

/** Builds a Deployment of about `targetBytes` of JSON: the records API with extra containers. */
export function sizedDeployment(targetBytes) {
  const object = deployment();
  return growTo(object, object.spec.template.spec.containers, targetBytes);
}

/** Builds an injected Pod of about `targetBytes` of JSON, starting from a minimal pod of about 250 bytes. */
export function sizedPod(targetBytes) {
  const object = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'records-api-6f9c7d8b54-',
      labels: { app: 'records-api', 'phi-mesh-guard.io/phi': 'true', 'sidecar.istio.io/inject': 'true' },
    },
    spec: { containers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0' }] },
  };
  return growTo(object, object.spec.containers, targetBytes);
}

const serviceAccountUser = (namespace, name) => ({
  username: `system:serviceaccount:${namespace}:${name}`,
  uid: '3e34ab62-e740-4f86-b670-610148552747',
  groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
});

const kindsByName = {
  Pod: { group: '', version: 'v1', kind: 'Pod', resource: 'pods' },
  Deployment: { group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments' },
  ReplicaSet: { group: 'apps', version: 'v1', kind: 'ReplicaSet', resource: 'replicasets' },
  PeerAuthentication: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication', resource: 'peerauthentications' },
  AuthorizationPolicy: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy', resource: 'authorizationpolicies' },
  DestinationRule: { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule', resource: 'destinationrules' },
};

let uidCounter = 0;

/** Wraps `object` in an AdmissionReview as the API server sends it. */
export function review(object, { operation = 'CREATE', oldObject = null, user = serviceAccountUser('kube-system', 'replicaset-controller') } = {}) {
  const { group, version, kind, resource } = kindsByName[object.kind];
  uidCounter += 1;
  const gvk = { group, version, kind };
  const gvr = { group, version, resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `5b0e6f0c-1d2a-4c3b-9e8f-${String(uidCounter).padStart(12, '0')}`,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      ...(object.metadata.name ? { name: object.metadata.name } : {}),
      namespace: phiNamespace,
      operation,
      userInfo: user,
      object,
      oldObject,
      dryRun: false,
      options: { kind: operation === 'UPDATE' ? 'UpdateOptions' : 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply' },
    },
  };
}

const applyingUser = { username: 'ci-deployer@example.org', groups: ['platform-deployers', 'system:authenticated'] };

function deploymentUpdate() {
  const oldObject = deployment();
  const object = deployment();
  object.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'] = '2026-03-09T07:15:41Z';
  return review(object, { operation: 'UPDATE', oldObject, user: applyingUser });
}

/**
 * Builds the HTTP benchmark's scenarios. `expected` is the response the guard must return
 * for each request, checked once before the load so a misconfigured run cannot pass unnoticed.
 * `connections` lists the connection counts each scenario runs at.
 */
export function scenarios() {
  const podCreate = (endpoint) => ({ endpoint, body: review(pod({ injected: endpoint === 'validate' })), expected: endpoint === 'mutate' ? 'patch' : 'allow' });
  const policy = (object) => ({ endpoint: 'validate', body: review(object, { user: applyingUser }), expected: 'allow' });
  const mix = [
    ...Array.from({ length: 7 }, () => podCreate('mutate')),
    ...Array.from({ length: 7 }, () => podCreate('validate')),
    { endpoint: 'validate', body: review(replicaSet()), expected: 'allow' },
    { endpoint: 'validate', body: review(replicaSet()), expected: 'allow' },
    { endpoint: 'validate', body: deploymentUpdate(), expected: 'allow' },
    policy(authorizationPolicy()),
    policy(destinationRule()),
    policy(peerAuthentication()),
  ];
  const allConnections = [1, 4, 16, 64];
  return [
    { id: 'pod-validate', title: 'Pod CREATE to /validate (injected pod from a Deployment)', requests: [podCreate('validate')], connections: allConnections },
    { id: 'pod-mutate', title: 'Pod CREATE to /mutate (pod before injection)', requests: [podCreate('mutate')], connections: allConnections },
    { id: 'peer-authentication', title: 'PeerAuthentication CREATE with port-level mTLS', requests: [policy(peerAuthentication())], connections: allConnections },
    { id: 'authorization-policy', title: 'AuthorizationPolicy CREATE with five rules', requests: [policy(authorizationPolicy())], connections: allConnections },
    { id: 'destination-rule', title: 'DestinationRule CREATE with subsets and port settings', requests: [policy(destinationRule())], connections: allConnections },
    {
      id: 'mix',
      title: 'Busy-cluster mix: 14 of 20 pod reviews (mutate and validate), 2 ReplicaSets, 1 Deployment UPDATE, 3 Istio policies',
      requests: mix,
      connections: allConnections,
    },
    // NOTE: 16 or 64 concurrent 1.5 MiB reviews would measure memory pressure rather
    // than latency, and the API server sends objects this large rarely.
    {
      id: 'large-object',
      title: 'Deployment CREATE of 1.5 MiB to /validate',
      requests: [{ endpoint: 'validate', body: review(sizedDeployment(1.5 * 1024 * 1024), { user: applyingUser }), expected: 'allow' }],
      connections: [1, 4],
    },
  ];
}

/** Builds the Pod review for the soak run. */
export function soakRequest() {
  return { endpoint: 'validate', body: review(pod({ injected: true })), expected: 'allow' };
}
