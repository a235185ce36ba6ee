import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { chmod, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { certsUsage, runCerts } from '../../src/cli/certs.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { InputError } from '../../src/errors.js';
import { closeServer, getOverTls, startHttpsServer } from './https-client.js';

const repository = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/webhook-configurations.yaml', import.meta.url));
const dayMs = 24 * 60 * 60 * 1000;

interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the real command line, as `phi-mesh-guard certs ARGS`, through tsx. */
function certs(args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(repository, 'src/cli/main.ts'), 'certs', ...args], { cwd: repository }, (error, stdout, stderr) => {
      let status = 0;
      if (error !== null) {
        status = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ status, stdout, stderr });
    });
  });
}

/** Runs `certs` in this process and keeps what it prints. */
async function certsInProcess(args: string[]): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const status = await runCerts(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { status, stdout, stderr };
}

function temporaryFolder(): string {
  return mkdtempSync(join(tmpdir(), 'phi-mesh-guard-certs-'));
}

function mode(info: { mode: number }): number {
  return info.mode & 0o777;
}

const required = ['--service', 'phi-mesh-guard', '--namespace', 'guard-system'];

/** Creates a folder with service.yaml, a YAML file without webhooks, and returns it with a path for --out inside it. */
function workFolder(): { work: string; out: string } {
  const work = temporaryFolder();
  writeFileSync(join(work, 'service.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: phi-mesh-guard }\n');
  return { work, out: join(work, 'out') };
}

function fillIn(text: string, folders: { work: string; out: string }): string {
  return text.replace('OUT', folders.out).replace('WORK', folders.work);
}

// main() prints a UsageError, a node:util parseArgs TypeError or a GuardError such as InputError
// after "phi-mesh-guard certs: " and exits with status 2. These rows run in this process, because
// starting the binary takes most of a second; the table below checks that mapping on the binary.
describe('runCerts', () => {
  it.each([
    { name: 'missing --service', args: ['--namespace', 'guard-system', '--out', 'OUT'], raises: UsageError, message: 'missing required option --service NAME' },
    { name: 'missing --namespace', args: ['--service', 'phi-mesh-guard', '--out', 'OUT'], raises: UsageError, message: 'missing required option --namespace NS' },
    { name: 'missing --out', args: required, raises: UsageError, message: 'missing required option --out DIR' },
    { name: '--days 0', args: [...required, '--out', 'OUT', '--days', '0'], raises: UsageError, message: '--days must be a whole number of days from 1 to 825; found "0"' },
    { name: '--days 826', args: [...required, '--out', 'OUT', '--days', '826'], raises: UsageError, message: '--days must be a whole number of days from 1 to 825; found "826"' },
    { name: '--days 1.5', args: [...required, '--out', 'OUT', '--days', '1.5'], raises: UsageError, message: '--days must be a whole number of days from 1 to 825; found "1.5"' },
    { name: '--days=-30', args: [...required, '--out', 'OUT', '--days=-30'], raises: UsageError, message: '--days must be a whole number of days from 1 to 825; found "-30"' },
    { name: '--days a year', args: [...required, '--out', 'OUT', '--days', 'year'], raises: UsageError, message: '--days must be a whole number of days from 1 to 825; found "year"' },
    {
      name: 'Service name with capitals',
      args: ['--service', 'PhiGuard', '--namespace', 'guard-system', '--out', 'OUT'],
      raises: UsageError,
      message: '--service must be a Service name: lowercase letters, digits and "-", starting with a letter, at most 63 characters; found "PhiGuard"',
    },
    {
      name: 'namespace with a dot',
      args: ['--service', 'phi-mesh-guard', '--namespace', 'guard.system', '--out', 'OUT'],
      raises: UsageError,
      message:
        '--namespace must be a namespace name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters; found "guard.system"',
    },
    {
      name: 'empty cluster domain label',
      args: [...required, '--out', 'OUT', '--cluster-domain', 'cluster..local'],
      raises: UsageError,
      message: '--cluster-domain must be a DNS domain such as cluster.local; found "cluster..local"',
    },
    { name: 'unknown option', args: [...required, '--out', 'OUT', '--validity', '30'], raises: TypeError, message: "Unknown option '--validity'" },
    {
      name: 'missing webhook configuration file',
      args: [...required, '--out', 'OUT', '--webhook-config', 'WORK/absent.yaml'],
      raises: InputError,
      message: 'cannot read --webhook-config WORK/absent.yaml: ENOENT: no such file or directory',
    },
    {
      name: 'webhook configuration file without webhooks',
      args: [...required, '--out', 'OUT', '--webhook-config', 'WORK/service.yaml'],
      raises: InputError,
      message: 'WORK/service.yaml: the YAML contains no MutatingWebhookConfiguration or ValidatingWebhookConfiguration with webhooks',
    },
  ])('rejects $name', async ({ args, raises, message }) => {
    const folders = workFolder();

    const error: unknown = await runCerts(args.map((arg) => fillIn(arg, folders))).then(
      () => undefined,
      (raised: unknown) => raised,
    );

    expect(error).toBeInstanceOf(raises);
    expect((error as Error).message.startsWith(fillIn(message, folders))).toBe(true);
    expect(await readdir(folders.work)).toEqual(['service.yaml']);
  });

  it('prints its usage with --help', async () => {
    expect(await certsInProcess(['--help'])).toEqual({ status: 0, stdout: certsUsage, stderr: '' });
  });

  it('writes the certificates and the webhook configurations', async () => {
    const out = join(temporaryFolder(), 'webhook', 'certs');
    const before = Date.now();

    const result = await certsInProcess([...required, '--out', out, '--days', '30', '--webhook-config', fixture]);

    expect(result.status).toBe(0);
    const caPem = await readFile(join(out, 'ca.crt'), 'utf8');
    const caBundle = Buffer.from(caPem).toString('base64');
    expect(result.stdout).toBe(`${caBundle}\n`);

    expect(mode(await stat(out))).toBe(0o700);
    expect((await readdir(out)).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'webhook-configurations.yaml']);
    expect(mode(await stat(join(out, 'ca.key')))).toBe(0o600);
    expect(mode(await stat(join(out, 'tls.key')))).toBe(0o600);
    expect(mode(await stat(join(out, 'ca.crt')))).toBe(0o644);
    expect(mode(await stat(join(out, 'tls.crt')))).toBe(0o644);

    const serving = new X509Certificate(await readFile(join(out, 'tls.crt')));
    expect(serving.subjectAltName).toBe(
      'DNS:phi-mesh-guard, DNS:phi-mesh-guard.guard-system, DNS:phi-mesh-guard.guard-system.svc, DNS:phi-mesh-guard.guard-system.svc.cluster.local',
    );
    expect(serving.checkIssued(new X509Certificate(caPem))).toBe(true);
    expect(Math.abs(Date.parse(serving.validTo) - (before + 30 * dayMs))).toBeLessThan(60_000);

    const rendered = await readFile(join(out, 'webhook-configurations.yaml'), 'utf8');
    const objects = parseAllDocuments(rendered).map((document) => document.toJS() as { kind: string; webhooks?: { clientConfig: { caBundle?: string } }[] });
    expect(objects.map((object) => object.kind)).toEqual(['MutatingWebhookConfiguration', 'Service', 'ValidatingWebhookConfiguration']);
    expect(objects.flatMap((object) => (object.webhooks ?? []).map((webhook) => webhook.clientConfig.caBundle))).toEqual([caBundle, caBundle, caBundle]);
    expect(rendered).toContain('# Two webhook configurations as a user keeps them');

    expect(result.stderr.split('\n')).toEqual([
      `wrote ${['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'webhook-configurations.yaml'].map((name) => join(out, name)).join(', ')}`,
      expect.stringMatching(
        /^serving certificate valid for phi-mesh-guard, phi-mesh-guard\.guard-system, phi-mesh-guard\.guard-system\.svc, phi-mesh-guard\.guard-system\.svc\.cluster\.local until \d{4}-\d\d-\d\dT/,
      ),
      'warning: webhook "istio-system.phi-mesh-guard.io" in ValidatingWebhookConfiguration/phi-mesh-guard calls Service guard-system/phi-mesh-guard-canary, but the certificate is for guard-system/phi-mesh-guard',
      '',
    ]);

    const { server, port } = await startHttpsServer(await readFile(join(out, 'tls.crt'), 'utf8'), await readFile(join(out, 'tls.key'), 'utf8'));
    try {
      expect((await getOverTls(port, { servername: 'phi-mesh-guard.guard-system.svc', ca: caPem })).status).toBe(200);
    } finally {
      await closeServer(server);
    }
  });

  it('replaces files with --force and restores key modes', async () => {
    const out = temporaryFolder();
    expect((await certsInProcess([...required, '--out', out, '--cluster-domain', 'hospital.internal'])).status).toBe(0);
    const firstCa = await readFile(join(out, 'ca.crt'), 'utf8');
    await chmod(join(out, 'tls.key'), 0o644);

    const result = await certsInProcess([...required, '--out', out, '--cluster-domain', 'hospital.internal', '--force']);

    expect(result.status).toBe(0);
    const secondCa = await readFile(join(out, 'ca.crt'), 'utf8');
    expect(secondCa).not.toBe(firstCa);
    expect(result.stdout).toBe(`${Buffer.from(secondCa).toString('base64')}\n`);
    expect(mode(await stat(join(out, 'tls.key')))).toBe(0o600);
    expect((await readdir(out)).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(new X509Certificate(await readFile(join(out, 'tls.crt'))).subjectAltName).toContain('DNS:phi-mesh-guard.guard-system.svc.hospital.internal');
  });
});

describe.concurrent('phi-mesh-guard certs binary', () => {
  it.each([
    { name: 'bad --days', args: [...required, '--out', 'OUT', '--days', '900'], stderr: 'phi-mesh-guard certs: --days must be a whole number of days from 1 to 825; found "900"\n\nUsage: ' },
    { name: 'unknown option', args: [...required, '--out', 'OUT', '--validity', '30'], stderr: "phi-mesh-guard certs: Unknown option '--validity'" },
  ])('exits with status 2 for $name', async ({ args, stderr }) => {
    const folders = workFolder();

    const result = await certs(args.map((arg) => fillIn(arg, folders)));

    expect(result.status).toBe(2);
    expect(result.stderr.startsWith(fillIn(stderr, folders))).toBe(true);
    expect(result.stdout).toBe('');
    expect(await readdir(folders.work)).toEqual(['service.yaml']);
  });

  it('exits with status 2 for existing files without --force', async () => {
    const out = temporaryFolder();
    writeFileSync(join(out, 'tls.key'), 'the key a running pod uses\n', { mode: 0o600 });
    writeFileSync(join(out, 'ca.crt'), 'the CA the webhooks trust\n');

    const result = await certs([...required, '--out', out]);

    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`phi-mesh-guard certs: ${out} already contains ca.crt, tls.key; pass --force to replace them\n`);
    expect(result.stdout).toBe('');
    expect((await readdir(out)).sort()).toEqual(['ca.crt', 'tls.key']);
    expect(await readFile(join(out, 'tls.key'), 'utf8')).toBe('the key a running pod uses\n');
  });
});
