import { parseArgs } from 'node:util';
import { readBaseManifests } from '../deploy/base-manifests.js';
import { readCertificateFolder } from '../deploy/certificate-folder.js';
import { baseNames, renderManifests, stringifyManifests } from '../deploy/render.js';
import { renderCaBundle } from '../tls/ca-bundle.js';
import { UsageError } from './usage-error.js';

export const manifestsUsage = `Usage: phi-mesh-guard manifests --image IMAGE [options]

Prints the objects that install phi-mesh-guard, as multi-document YAML for
\`kubectl apply -f -\`: the kustomize base of the manifests/ folder, with the
namespace, image, replica count and Service name set. The webhook
configurations come last.

Options:
  --image IMAGE          container image of the guard (required)
  -n, --namespace NS     namespace to install into (default ${baseNames.namespace})
  --replicas N           number of guard replicas, 2 or more (default 2)
  --service NAME         name of the webhook Service (default ${baseNames.service})
  --certs DIR            folder written by \`phi-mesh-guard certs\`: ca.crt fills every
                         webhook's caBundle, and tls.crt, when present, must be signed
                         by it and name NAME.NS.svc

Without --certs, the webhooks carry no caBundle and the API server cannot verify the
guard until cert-manager or a patch sets it (see docs/deploy.md).

Exit status: 0 when the manifests are printed, 2 when an option or a file cannot be used.
`;

/** Namespaces the guard must not be installed into, because the webhooks exclude them or give them an entry of their own. */
const reservedNamespaces: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system']);

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const serviceNamePattern = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export async function runManifests(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      image: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      replicas: { type: 'string' },
      service: { type: 'string' },
      certs: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(manifestsUsage);
    return 0;
  }

  const image = values.image?.trim() ?? '';
  if (image === '' || /\s/.test(image)) {
    throw new UsageError(values.image === undefined ? 'manifests needs --image IMAGE' : `--image must be an image reference without spaces, found "${values.image}"`);
  }
  const namespace = values.namespace ?? baseNames.namespace;
  if (namespace.length > 63 || !dnsLabel.test(namespace)) {
    throw new UsageError(`--namespace must be a DNS label (lower-case letters, digits and "-", at most 63 characters), found "${namespace}"`);
  }
  if (reservedNamespaces.has(namespace)) {
    throw new UsageError(`--namespace ${namespace} is reserved, because the webhooks exclude it or give it an entry of its own; choose a namespace for the guard alone, such as ${baseNames.namespace}`);
  }
  const serviceName = values.service ?? baseNames.service;
  if (serviceName.length > 63 || !serviceNamePattern.test(serviceName)) {
    throw new UsageError(`--service must be a DNS label that starts with a letter, found "${serviceName}"`);
  }
  const replicas = parseReplicas(values.replicas);

  const caPem = values.certs === undefined ? undefined : await readCertificateFolder(values.certs, `${serviceName}.${namespace}.svc`);
  const documents = renderManifests(await readBaseManifests(), { namespace, image, replicas, serviceName });
  const header =
    `# phi-mesh-guard for namespace ${namespace}, Service ${serviceName}, image ${image}, ${replicas} replicas.\n` +
    `# caBundle: ${caPem === undefined ? 'not set; set it before relying on the webhooks' : `the CA in ${values.certs}/ca.crt`}.\n\n`;
  const text = stringifyManifests(documents, header);
  process.stdout.write(caPem === undefined ? text : renderCaBundle(text, caPem));
  return 0;
}

function parseReplicas(text: string | undefined): number {
  if (text === undefined) {
    return 2;
  }
  const replicas = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(replicas) || replicas < 2) {
    throw new UsageError(
      `--replicas must be a whole number of 2 or more, found "${text}": the webhooks fail closed, so a single replica ` +
        'stops admission whenever it restarts, and the PodDisruptionBudget (minAvailable 1) would block every node drain',
    );
  }
  return replicas;
}
