import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { E2eEnvironment } from './harness/environment.js';
import { repositoryRoot } from './harness/guard.js';

const env = new E2eEnvironment();
const image = 'registry.example.org/phi-mesh-guard:0.1.0';

interface Command {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runGuardCli(args: readonly string[]): Promise<Command> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [env.settings.guard.entryPoint, ...args], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function objectsOf(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null);
}

/** Returns the name kubectl prints for each object of a server-side dry-run apply, such as `deployment.apps/phi-mesh-guard`. */
function appliedNames(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^(\S+) (?:created|configured|unchanged) \(server dry run\)$/.exec(line);
      if (match === null) {
        throw new Error(`unexpected kubectl output line: ${line}`);
      }
      return match[1]!;
    });
}

let kustomized: { text: string; objects: KubernetesObject[] };
let rendered: { text: string; objects: KubernetesObject[] };
let certsFolder: string;

beforeAll(async () => {
  const kustomize = await env.kubectl('admin', ['kustomize', join(repositoryRoot, 'manifests')]);
  expect(kustomize.stderr).toBe('');
  kustomized = { text: kustomize.stdout, objects: objectsOf(kustomize.stdout) };

  certsFolder = join(await mkdtemp(join(env.settings.workDir, 'install-')), 'certs');
  const certs = await runGuardCli(['certs', '--service', 'phi-mesh-guard', '--namespace', 'phi-mesh-guard', '--out', certsFolder]);
  expect(certs.status, certs.stderr).toBe(0);
  const manifests = await runGuardCli(['manifests', '--image', image, '--certs', certsFolder]);
  expect(manifests.status, manifests.stderr).toBe(0);
  rendered = { text: manifests.stdout, objects: objectsOf(manifests.stdout) };
});

describe('project manifests', () => {
  it('from kubectl kustomize pass a server-side dry-run apply', async () => {
    const result = await env.kubectl('admin', ['apply', '--dry-run=server', '-f', '-'], kustomized.text);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(appliedNames(result.stdout)).toHaveLength(kustomized.objects.length);
  });

  it('from the manifests command pass a server-side dry-run apply', async () => {
    const result = await env.kubectl('admin', ['apply', '--dry-run=server', '-f', '-'], rendered.text);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(appliedNames(result.stdout)).toEqual(
      expect.arrayContaining(['deployment.apps/phi-mesh-guard', 'mutatingwebhookconfiguration.admissionregistration.k8s.io/phi-mesh-guard', 'validatingwebhookconfiguration.admissionregistration.k8s.io/phi-mesh-guard']),
    );
    expect(appliedNames(result.stdout)).toHaveLength(rendered.objects.length);
  });

  it('from the manifests command carry the CA of the certs folder', async () => {
    const caBundle = Buffer.from(await readFile(join(certsFolder, 'ca.crt'), 'utf8')).toString('base64');
    const webhooks = rendered.objects
      .filter((object) => object.kind?.endsWith('WebhookConfiguration'))
      .flatMap((object) => (object as KubernetesObject & { webhooks: { clientConfig: { caBundle?: string } }[] }).webhooks);

    expect(webhooks.length).toBeGreaterThan(0);
    expect(webhooks.every((webhook) => webhook.clientConfig.caBundle === caBundle)).toBe(true);
  });

  it.each(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'])('render the same %s both ways', (kind) => {
    const withoutCaBundle = (objects: KubernetesObject[]): unknown => {
      const configuration = structuredClone(objects.find((object) => object.kind === kind)) as KubernetesObject & { webhooks: { clientConfig: { caBundle?: string } }[] };
      for (const webhook of configuration.webhooks) {
        delete webhook.clientConfig.caBundle;
      }
      return configuration.webhooks;
    };

    expect(withoutCaBundle(rendered.objects)).toEqual(withoutCaBundle(kustomized.objects));
  });
});
