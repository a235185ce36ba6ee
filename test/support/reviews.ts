import type { KubeObject, Operation } from '../../src/admission/types.js';
import { groupVersionKindOf } from './context.js';

let counter = 0;

/** Builds a fresh AdmissionReview body for `object`, as the API server sends it. */
export function reviewFor(
  object: KubeObject | null,
  options: {
    apiVersion?: 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1';
    operation?: Operation;
    namespace?: string;
    oldObject?: KubeObject | null;
    subResource?: string;
    resource?: string;
    kind?: { group: string; version: string; kind: string };
    dryRun?: boolean;
    user?: { username: string; groups: string[] };
    name?: string;
  } = {},
): Record<string, unknown> {
  counter += 1;
  const subject = object ?? options.oldObject ?? { apiVersion: 'v1', kind: 'Pod' };
  const kind = options.kind ?? groupVersionKindOf(subject);
  const request: Record<string, unknown> = {
    uid: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    kind,
    resource: { group: kind.group, version: kind.version, resource: options.resource ?? `${kind.kind.toLowerCase()}s` },
    requestKind: kind,
    operation: options.operation ?? 'CREATE',
    userInfo: options.user ?? { username: 'alice@example.org', groups: ['developers', 'system:authenticated'] },
    object,
    oldObject: options.oldObject ?? null,
    dryRun: options.dryRun ?? false,
  };
  const namespace = options.namespace ?? subject.metadata?.namespace;
  if (namespace !== undefined) {
    request.namespace = namespace;
  }
  if (options.subResource !== undefined) {
    request.subResource = options.subResource;
  }
  if (options.name !== undefined) {
    request.name = options.name;
  }
  return { apiVersion: options.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

/** Returns a Pod as a ReplicaSet creates it: generateName, no namespace in metadata. */
export function replicaSetPod(overrides: { labels?: Record<string, string>; annotations?: Record<string, string>; containers?: unknown[]; initContainers?: unknown[] } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'records-api-6d8f7b9c4-',
      labels: overrides.labels ?? { app: 'records-api', 'pod-template-hash': '6d8f7b9c4' },
      ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
    },
    spec: {
      serviceAccountName: 'records-api',
      containers: overrides.containers ?? [{ name: 'api', image: 'registry.example.org/patient-records/api:2.14.3', env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }],
      ...(overrides.initContainers ? { initContainers: overrides.initContainers } : {}),
    },
  };
}

export function decodePatch(patch: unknown): unknown {
  return JSON.parse(Buffer.from(String(patch), 'base64').toString('utf8'));
}
