import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CertificateError, InputError } from '../errors.js';
import { encodeCaBundle, listWebhookServices, renderCaBundle } from '../tls/ca-bundle.js';
import { createCertificateSet, serviceDnsNames } from '../tls/certificates.js';
import { UsageError } from './usage-error.js';

export const certsUsage = `Usage: phi-mesh-guard certs --service NAME --namespace NS --out DIR [options]

Creates a CA and a serving certificate for the webhook Service, valid for the DNS names
NAME, NAME.NS, NAME.NS.svc and NAME.NS.svc.CLUSTER_DOMAIN, and writes ca.crt, ca.key,
tls.crt and tls.key to DIR. Prints the base64 caBundle for the webhook configurations on
standard output and a summary on standard error.

Options:
  --service NAME           name of the webhook's Service (required)
  --namespace NS           namespace of the Service (required)
  --out DIR                folder for the files, created with mode 0700 when missing (required)
  --days N                 validity of the CA and the serving certificate in days, 1 to 825
                           (default 365)
  --cluster-domain DOMAIN  the cluster's DNS domain (default cluster.local)
  --webhook-config FILE    YAML with MutatingWebhookConfiguration and ValidatingWebhookConfiguration
                           documents; writes DIR/webhook-configurations.yaml with
                           clientConfig.caBundle set on every webhook
  --force                  replace files that already exist in DIR

Exit status: 0 when the files are written, 2 when an option or the webhook configuration
file cannot be used, or when a file exists in DIR and --force is not given.
`;

const maxValidityDays = 825;
const defaultValidityDays = 365;

const dns1035Label = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Output streams of the command: the process's own, or a capture in tests. */
export interface CommandOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

interface OutputFile {
  name: string;
  contents: string;
  mode: number;
}

export async function runCerts(args: string[], output: CommandOutput = process): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      service: { type: 'string' },
      namespace: { type: 'string' },
      out: { type: 'string' },
      days: { type: 'string' },
      'cluster-domain': { type: 'string' },
      'webhook-config': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    output.stdout.write(certsUsage);
    return 0;
  }

  const service = requireOption(values.service, '--service NAME');
  const namespace = requireOption(values.namespace, '--namespace NS');
  const out = requireOption(values.out, '--out DIR');
  if (!dns1035Label.test(service)) {
    throw new UsageError(
      `--service must be a Service name: lowercase letters, digits and "-", starting with a letter, at most 63 characters; found "${service}"`,
    );
  }
  if (!dns1123Label.test(namespace)) {
    throw new UsageError(
      `--namespace must be a namespace name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters; found "${namespace}"`,
    );
  }
  const clusterDomain = values['cluster-domain'] ?? 'cluster.local';
  if (!isDnsSubdomain(clusterDomain)) {
    throw new UsageError(`--cluster-domain must be a DNS domain such as cluster.local; found "${clusterDomain}"`);
  }
  const validityDays = parseValidityDays(values.days);

  const webhookConfigFile = values['webhook-config'];
  const webhookConfig = webhookConfigFile === undefined ? undefined : { file: webhookConfigFile, text: await readWebhookConfig(webhookConfigFile) };

  const dnsNames = serviceDnsNames(service, namespace, clusterDomain);
  const set = createCertificateSet({ dnsNames, validityDays, caCommonName: `${service}.${namespace} webhook CA` });
  const files: OutputFile[] = [
    { name: 'ca.crt', contents: set.caCertPem, mode: 0o644 },
    { name: 'ca.key', contents: set.caKeyPem, mode: 0o600 },
    { name: 'tls.crt', contents: set.certPem, mode: 0o644 },
    { name: 'tls.key', contents: set.keyPem, mode: 0o600 },
  ];
  if (webhookConfig !== undefined) {
    files.push({ name: 'webhook-configurations.yaml', contents: renderWebhookConfig(webhookConfig.text, webhookConfig.file, set.caCertPem), mode: 0o644 });
  }

  await writeOutputFiles(out, files, values.force ?? false);

  const summary = [
    `wrote ${files.map((file) => join(out, file.name)).join(', ')}`,
    `serving certificate valid for ${dnsNames.join(', ')} until ${set.notAfter.toISOString()}`,
  ];
  if (webhookConfig !== undefined) {
    summary.push(...serviceMismatches(webhookConfig.text, service, namespace));
  }
  output.stderr.write(`${summary.join('\n')}\n`);
  output.stdout.write(`${encodeCaBundle(set.caCertPem)}\n`);
  return 0;
}

function requireOption(value: string | undefined, option: string): string {
  if (value === undefined || value === '') {
    throw new UsageError(`missing required option ${option}`);
  }
  return value;
}

function parseValidityDays(text: string | undefined): number {
  if (text === undefined) {
    return defaultValidityDays;
  }
  const days = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > maxValidityDays) {
    throw new UsageError(`--days must be a whole number of days from 1 to ${maxValidityDays}; found "${text}"`);
  }
  return days;
}

function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && value.split('.').every((label) => dns1123Label.test(label));
}

async function readWebhookConfig(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read --webhook-config ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function renderWebhookConfig(yamlText: string, file: string, caPem: string): string {
  try {
    return renderCaBundle(yamlText, caPem);
  } catch (error) {
    if (error instanceof InputError) {
      throw new InputError(`${file}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** Warning lines for webhooks that call a Service the certificate does not cover; the API server would reject its name. */
function serviceMismatches(yamlText: string, service: string, namespace: string): string[] {
  return listWebhookServices(yamlText)
    .filter((reference) => reference.service !== service || reference.namespace !== namespace)
    .map(
      (reference) =>
        `warning: webhook "${reference.webhook}" in ${reference.configuration} calls Service ` +
        `${reference.namespace}/${reference.service}, but the certificate is for ${namespace}/${service}`,
    );
}

/**
 * Writes the files into `folder`, creating it with mode 0700 when missing. Without
 * `force`, nothing is written when any of the files exists. With `force`, each file
 * is written to a temporary name with its final mode and renamed over the old one,
 * so a key is never readable with the old file's mode.
 */
async function writeOutputFiles(folder: string, files: readonly OutputFile[], force: boolean): Promise<void> {
  try {
    await mkdir(folder, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CertificateError(`cannot create folder ${folder}: ${(error as Error).message}`, { cause: error });
  }
  if (!force) {
    const existing = [];
    for (const file of files) {
      if (await exists(join(folder, file.name))) {
        existing.push(file.name);
      }
    }
    if (existing.length > 0) {
      throw new CertificateError(`${folder} already contains ${existing.join(', ')}; pass --force to replace them`);
    }
  }

  for (const file of files) {
    const path = join(folder, file.name);
    try {
      if (force) {
        const temporary = join(folder, `.${file.name}.${randomBytes(6).toString('hex')}.tmp`);
        try {
          await writeFile(temporary, file.contents, { mode: file.mode, flag: 'wx' });
          await chmod(temporary, file.mode);
          await rename(temporary, path);
        } catch (error) {
          await rm(temporary, { force: true });
          throw error;
        }
      } else {
        await writeFile(path, file.contents, { mode: file.mode, flag: 'wx' });
        await chmod(path, file.mode);
      }
    } catch (error) {
      throw new CertificateError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return false;
    }
    throw new CertificateError(`cannot check ${path}: ${(error as Error).message}`, { cause: error });
  }
}
