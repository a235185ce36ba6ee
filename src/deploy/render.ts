import { type Document, isSeq, type YAMLSeq } from 'yaml';
import { InputError } from '../errors.js';
import type { BaseDocument } from './base-manifests.js';

/** The namespace, Service and container names that the base files use. */
export const baseNames = {
  namespace: 'phi-mesh-guard',
  service: 'phi-mesh-guard',
  container: 'phi-mesh-guard',
} as const;

export interface RenderOptions {
  namespace: string;
  image: string;
  replicas: number;
  serviceName: string;
}

const metadataNameLabel = 'kubernetes.io/metadata.name';

/**
 * Rewrites copies of the base documents for one installation. It sets the
 * namespace of every namespaced object and of the ClusterRoleBinding's subject,
 * the name of the Namespace object and of the Service, and the Deployment's
 * image and replica count. In both webhook configurations it sets the Service
 * reference and the exclusion of the guard's namespace from the
 * namespaceSelector. Comments in the base survive.
 */
export function renderManifests(base: readonly BaseDocument[], options: RenderOptions): Document[] {
  const rendered = base.map(({ file, document }) => {
    const copy = document.clone();
    rewriteDocument(copy, file, options);
    return copy;
  });
  const kinds = rendered.map((document) => document.get('kind'));
  for (const required of ['Namespace', 'Deployment', 'Service', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
    if (!kinds.includes(required)) {
      throw new InputError(`the deployment manifests have no ${required}; the manifests/ folder of this installation is incomplete`);
    }
  }
  return rendered;
}

/**
 * Joins documents into one multi-document YAML stream, without line folding. Sets
 * each document's own start marker, because documents that came second in a base
 * file carry one and documents that came first do not.
 */
export function stringifyManifests(documents: readonly Document[], header = ''): string {
  const parts = documents.map((document, index) => {
    document.directives!.docStart = index === 0 ? null : true;
    return document.toString({ lineWidth: 0, flowCollectionPadding: false });
  });
  return `${header}${parts.join('')}`;
}

function rewriteDocument(document: Document, file: string, options: RenderOptions): void {
  if (document.getIn(['metadata', 'namespace']) === baseNames.namespace) {
    document.setIn(['metadata', 'namespace'], options.namespace);
  }

  switch (document.get('kind')) {
    case 'Namespace':
      if (document.getIn(['metadata', 'name']) === baseNames.namespace) {
        document.setIn(['metadata', 'name'], options.namespace);
      }
      break;
    case 'ClusterRoleBinding':
      for (const index of indexes(document.get('subjects'))) {
        if (document.getIn(['subjects', index, 'namespace']) === baseNames.namespace) {
          document.setIn(['subjects', index, 'namespace'], options.namespace);
        }
      }
      break;
    case 'Service':
      if (document.getIn(['metadata', 'name']) === baseNames.service) {
        document.setIn(['metadata', 'name'], options.serviceName);
      }
      break;
    case 'Deployment':
      rewriteDeployment(document, file, options);
      break;
    case 'MutatingWebhookConfiguration':
    case 'ValidatingWebhookConfiguration':
      for (const index of indexes(document.get('webhooks'))) {
        rewriteWebhook(document, index, options);
      }
      break;
  }
}

function rewriteDeployment(document: Document, file: string, options: RenderOptions): void {
  document.setIn(['spec', 'replicas'], options.replicas);
  const containersPath = ['spec', 'template', 'spec', 'containers'];
  const index = indexes(document.getIn(containersPath)).find(
    (candidate) => document.getIn([...containersPath, candidate, 'name']) === baseNames.container,
  );
  if (index === undefined) {
    throw new InputError(`${file}: the Deployment has no container named "${baseNames.container}" to set the image on`);
  }
  document.setIn([...containersPath, index, 'image'], options.image);
}

function rewriteWebhook(document: Document, index: number, options: RenderOptions): void {
  const service = ['webhooks', index, 'clientConfig', 'service'];
  if (document.getIn([...service, 'namespace']) === baseNames.namespace) {
    document.setIn([...service, 'namespace'], options.namespace);
  }
  if (document.getIn([...service, 'name']) === baseNames.service) {
    document.setIn([...service, 'name'], options.serviceName);
  }

  const expressionsPath = ['webhooks', index, 'namespaceSelector', 'matchExpressions'];
  for (const expression of indexes(document.getIn(expressionsPath))) {
    const path = [...expressionsPath, expression];
    if (document.getIn([...path, 'key']) !== metadataNameLabel || document.getIn([...path, 'operator']) !== 'NotIn') {
      continue;
    }
    const values = document.getIn([...path, 'values']);
    for (const valueIndex of indexes(values)) {
      if (document.getIn([...path, 'values', valueIndex]) === baseNames.namespace) {
        document.setIn([...path, 'values', valueIndex], options.namespace);
      }
    }
  }
}

/** Lists the item positions of a YAML sequence node, none when the node is not a sequence. */
function indexes(node: unknown): number[] {
  if (!isSeq(node)) {
    return [];
  }
  return (node as YAMLSeq).items.map((_item, index) => index);
}
