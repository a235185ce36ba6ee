import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { repositoryRoot } from './guard.js';

/** A webhook entry of either configuration kind, as far as the harness reads it. */
interface WebhookEntry {
  name: string;
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
}

export interface WebhookConfiguration extends KubernetesObject {
  webhooks: WebhookEntry[];
}

/**
 * Renders the project's kustomize base with the built kubectl (`kubectl
 * kustomize manifests`), as `kubectl apply -k manifests` would install it.
 */
export function renderProjectManifests(kubectl: string): { text: string; objects: KubernetesObject[] } {
  const folder = join(repositoryRoot, 'manifests');
  const result = spawnSync(kubectl, ['kustomize', folder], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`kubectl kustomize ${folder} failed with exit status ${result.status}: ${result.stderr.trim() || result.error?.message}`);
  }
  const objects: KubernetesObject[] = [];
  for (const document of parseAllDocuments(result.stdout)) {
    if (document.errors.length > 0) {
      throw new Error(`kubectl kustomize printed invalid YAML: ${document.errors[0]!.message}`);
    }
    const value = document.toJS() as KubernetesObject | null;
    if (value !== null) {
      objects.push(value);
    }
  }
  return { text: result.stdout, objects };
}

/** The one object of `kind` named `name`; raises when the manifests have none. */
export function findObject<T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string, name: string): T {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  if (found === undefined) {
    throw new Error(`the project's manifests have no ${kind} named ${name}`);
  }
  return structuredClone(found) as T;
}

/**
 * Points every webhook of a configuration from the project's manifests at a
 * guard on loopback: `clientConfig.service` (with its path) becomes
 * `url: BASE + path`, and `caBundle` is set. Rules, selectors, failure policies
 * and timeouts stay as the manifests have them. Fields that only an installed
 * cluster sets, such as resourceVersion, are dropped.
 */
export function pointWebhooksAt(configuration: WebhookConfiguration, baseUrl: string, caPem: string): WebhookConfiguration {
  const copy = structuredClone(configuration);
  copy.metadata = { name: configuration.metadata?.name, labels: configuration.metadata?.labels };
  for (const webhook of copy.webhooks) {
    const path = webhook.clientConfig.service?.path;
    if (path === undefined) {
      throw new Error(`webhook ${webhook.name} of ${configuration.kind} ${configuration.metadata?.name} names no clientConfig.service.path`);
    }
    webhook.clientConfig = { url: `${baseUrl}${path}`, caBundle: Buffer.from(caPem).toString('base64') };
  }
  return copy;
}
