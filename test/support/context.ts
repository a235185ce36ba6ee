import type { AdmissionRequest, KubeObject, Operation } from '../../src/admission/types.js';
import { StaticClusterView } from '../../src/cluster/static-view.js';
import { configSchema, type GuardConfig } from '../../src/config/schema.js';
import type { EvaluationContext, Stage } from '../../src/engine/context.js';
import { contextFromRequest } from '../../src/engine/request-context.js';

export interface ContextOptions {
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  operation?: Operation;
  stage?: Stage;
  /** Request namespace; defaults to the object's metadata.namespace. */
  namespace?: string;
  subResource?: string;
  /** Overrides group/version/kind taken from the object's apiVersion and kind. */
  kind?: { group: string; version: string; kind: string };
  user?: { username: string; groups?: string[] };
  /** Namespaces and PeerAuthentications the cluster view holds. */
  cluster?: KubeObject[];
  /** Partial configuration, validated with the real schema. */
  config?: Record<string, unknown>;
  options?: unknown;
}

/** Returns a Namespace manifest with the given labels. */
export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** Returns a PHI namespace as users label it. */
export function phiNamespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return namespace(name, { 'phi-mesh-guard.io/phi': 'true', ...labels });
}

export function groupVersionKindOf(object: KubeObject): { group: string; version: string; kind: string } {
  const apiVersion = object.apiVersion ?? 'v1';
  const slash = apiVersion.indexOf('/');
  return {
    group: slash === -1 ? '' : apiVersion.slice(0, slash),
    version: slash === -1 ? apiVersion : apiVersion.slice(slash + 1),
    kind: object.kind ?? '',
  };
}

/** Builds an AdmissionRequest as the API server would send it for `options.object`. */
export function admissionRequest(options: ContextOptions): AdmissionRequest {
  const subject = options.object ?? options.oldObject ?? undefined;
  const gvk = options.kind ?? (subject ? groupVersionKindOf(subject) : { group: '', version: 'v1', kind: 'Pod' });
  const metadataNamespace = subject?.metadata?.namespace;
  const request: AdmissionRequest = {
    uid: '3f1c6a52-8d0e-4b8f-9a57-2f4d1e0c9b11',
    kind: gvk,
    resource: { group: gvk.group, version: gvk.version, resource: `${gvk.kind.toLowerCase()}s` },
    operation: options.operation ?? 'CREATE',
    userInfo: { username: options.user?.username ?? 'alice@example.org', groups: options.user?.groups ?? ['system:authenticated'] },
    object: options.object ?? null,
    oldObject: options.oldObject ?? null,
    dryRun: false,
  };
  const requestNamespace = options.namespace ?? metadataNamespace;
  if (requestNamespace !== undefined) {
    request.namespace = requestNamespace;
  }
  if (options.subResource !== undefined) {
    request.subResource = options.subResource;
  }
  if (options.options !== undefined) {
    request.options = options.options;
  }
  return request;
}

export function makeConfig(partial: Record<string, unknown> = {}): GuardConfig {
  return configSchema.parse(partial);
}

/** Builds an evaluation context the way the webhook does, from a request. */
export function makeContext(options: ContextOptions): EvaluationContext {
  return contextFromRequest(
    admissionRequest(options),
    options.stage ?? 'validate',
    makeConfig(options.config),
    new StaticClusterView(options.cluster ?? []),
  );
}
