import { X509Certificate } from 'node:crypto';
import { isMap, isSeq, parseAllDocuments, type Document, type YAMLMap } from 'yaml';
import { CertificateError, InputError } from '../errors.js';

const webhookConfigurationKinds: ReadonlySet<string> = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

const pemBlockPattern = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Encodes CA certificates as the base64 `caBundle` value of a webhook's
 * `clientConfig`. `caPem` may hold several certificates, for example the old and
 * the new CA while a CA is replaced. Raises CertificateError when the text contains
 * no certificate, contains a private key, or contains a certificate that is not a CA.
 */
export function encodeCaBundle(caPem: string): string {
  const blocks = [...caPem.matchAll(pemBlockPattern)];
  if (blocks.length === 0) {
    throw new CertificateError('the CA bundle contains no PEM certificate');
  }
  for (const [block, label] of blocks) {
    if (label !== 'CERTIFICATE') {
      throw new CertificateError(`the CA bundle contains a PEM block of type ${label ?? 'unknown'}; it must contain only CA certificates (ca.crt, never a key)`);
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw new CertificateError(`the CA bundle contains a certificate that cannot be parsed: ${(error as Error).message}`, { cause: error });
    }
    if (!certificate.ca) {
      throw new CertificateError(`the CA bundle contains ${certificate.subject.replace(/\n/g, ', ')}, which is not a CA certificate; use ca.crt, not tls.crt`);
    }
  }
  return Buffer.from(caPem, 'utf8').toString('base64');
}

/**
 * Sets `clientConfig.caBundle` on every webhook of every MutatingWebhookConfiguration
 * and ValidatingWebhookConfiguration in a multi-document YAML text (members of a
 * `List` included) and returns the text. Other documents, comments and key order
 * stay as they were. Raises InputError when the YAML is invalid, when it contains no
 * webhook, or when a webhook has no `clientConfig`. Raises CertificateError for an
 * unusable `caPem`, as encodeCaBundle does.
 */
export function renderCaBundle(yamlText: string, caPem: string): string {
  const caBundle = encodeCaBundle(caPem);
  const documents = parseDocuments(yamlText);
  let webhooks = 0;
  for (const webhook of listWebhooks(documents)) {
    const clientConfig = webhook.node.get('clientConfig', true);
    if (!isMap(clientConfig)) {
      throw new InputError(`webhook "${webhook.name}" in ${webhook.configuration} has no clientConfig mapping to set caBundle on`);
    }
    clientConfig.set('caBundle', caBundle);
    webhooks += 1;
  }
  if (webhooks === 0) {
    throw new InputError('the YAML contains no MutatingWebhookConfiguration or ValidatingWebhookConfiguration with webhooks');
  }
  return documents.map((document) => document.toString({ lineWidth: 0 })).join('');
}

export interface WebhookServiceReference {
  /** `Kind/name` of the webhook configuration. */
  configuration: string;
  webhook: string;
  service: string;
  namespace: string;
}

/**
 * Lists the Services that webhooks call through `clientConfig.service`, so a caller
 * can check that a serving certificate covers them. Webhooks called by `url` are
 * left out. Raises InputError when the YAML is invalid.
 */
export function listWebhookServices(yamlText: string): WebhookServiceReference[] {
  const references: WebhookServiceReference[] = [];
  for (const webhook of listWebhooks(parseDocuments(yamlText))) {
    const service = webhook.node.getIn(['clientConfig', 'service']);
    if (isMap(service)) {
      references.push({
        configuration: webhook.configuration,
        webhook: webhook.name,
        service: String(service.get('name') ?? ''),
        namespace: String(service.get('namespace') ?? ''),
      });
    }
  }
  return references;
}

function parseDocuments(yamlText: string): Document.Parsed[] {
  const documents: Document.Parsed[] = parseAllDocuments(yamlText);
  documents.forEach((document, index) => {
    if (document.errors.length > 0) {
      throw new InputError(`document ${index}: invalid YAML: ${document.errors[0]!.message.split('\n')[0]}`);
    }
  });
  return documents;
}

interface WebhookNode {
  configuration: string;
  name: string;
  node: YAMLMap;
}

function listWebhooks(documents: readonly Document.Parsed[]): WebhookNode[] {
  const webhooks: WebhookNode[] = [];
  for (const object of documents.flatMap((document) => topLevelObjects(document.contents))) {
    const kind = object.get('kind');
    if (typeof kind !== 'string' || !webhookConfigurationKinds.has(kind)) {
      continue;
    }
    const configuration = `${kind}/${String(object.getIn(['metadata', 'name']) ?? '')}`;
    const list = object.get('webhooks', true);
    if (!isSeq(list)) {
      continue;
    }
    list.items.forEach((item, index) => {
      if (!isMap(item)) {
        throw new InputError(`webhooks[${index}] in ${configuration} must be a mapping`);
      }
      webhooks.push({ configuration, name: String(item.get('name') ?? `webhooks[${index}]`), node: item });
    });
  }
  return webhooks;
}

/** Returns the document's object, or the members of a `List` kind. */
function topLevelObjects(contents: unknown): YAMLMap[] {
  if (!isMap(contents)) {
    return [];
  }
  const kind = contents.get('kind');
  const items = contents.get('items', true);
  if (typeof kind === 'string' && kind.endsWith('List') && isSeq(items)) {
    return items.items.filter((item): item is YAMLMap => isMap(item));
  }
  return [contents];
}
