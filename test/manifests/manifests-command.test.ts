import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { manifestsUsage, runManifests } from '../../src/cli/manifests.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { readBaseManifests } from '../../src/deploy/base-manifests.js';
import { renderManifests, stringifyManifests } from '../../src/deploy/render.js';
import { CertificateError, InputError } from '../../src/errors.js';
import { createCertificateSet, serviceDnsNames } from '../../src/tls/certificates.js';
import { type CommandResult, kubectl, kustomize, loadBaseObjects, type Manifest, manifestsFolder, runCli, single } from './support.js';

function parseStream(text: string): Manifest[] {
  const documents = parseAllDocuments(text);
  for (const document of documents) {
    expect(document.errors).toEqual([]);
  }
  return documents.map((document) => document.toJS() as Manifest);
}

/** A folder with ca.crt, tls.crt and tls.key for the Service `service` in `namespace`. */
function certificateFolder(service: string, namespace: string): { dir: string; caPem: string; certPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-manifests-'));
  const set = createCertificateSet({ dnsNames: serviceDnsNames(service, namespace), validityDays: 2 });
  writeFileSync(join(dir, 'ca.crt'), set.caCertPem);
  writeFileSync(join(dir, 'tls.crt'), set.certPem);
  writeFileSync(join(dir, 'tls.key'), set.keyPem, { mode: 0o600 });
  return { dir, caPem: set.caCertPem, certPem: set.certPem };
}

const webhookKinds = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];
const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', ...webhookKinds]);

describe('renderManifests', () => {
  let rendered: Manifest[];

  beforeAll(async () => {
    const documents = renderManifests(await readBaseManifests(), { namespace: 'guard-system', image: 'registry.example/guard:1.2.3', replicas: 3, serviceName: 'admission' });
    rendered = parseStream(stringifyManifests(documents));
  });

  it('moves every namespaced object', () => {
    for (const object of rendered.filter((candidate) => !clusterScoped.has(candidate.kind as string))) {
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe('guard-system');
    }
    expect(single(rendered, 'Namespace').metadata.name).toBe('guard-system');
    expect(single(rendered, 'ClusterRoleBinding').subjects[0].namespace).toBe('guard-system');
  });

  it('sets image, replicas and Service name', () => {
    const deployment = single(rendered, 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.example/guard:1.2.3');
    expect(single(rendered, 'Service').metadata.name).toBe('admission');
  });

  it.each(webhookKinds)('%s calls the renamed Service and excludes the new namespace', (kind) => {
    for (const webhook of single(rendered, kind).webhooks as Manifest[]) {
      expect(webhook.clientConfig.service.namespace).toBe('guard-system');
      expect(webhook.clientConfig.service.name).toBe('admission');
      const [expression] = webhook.namespaceSelector.matchExpressions as Manifest[];
      if (expression!.operator === 'NotIn') {
        expect(expression!.values).toEqual(['kube-system', 'kube-public', 'kube-node-lease', 'guard-system', 'istio-system']);
      } else {
        expect(expression!.values).toEqual(['istio-system']);
      }
    }
  });

  it('changes nothing else with the base values', async () => {
    const documents = renderManifests(await readBaseManifests(), { namespace: 'phi-mesh-guard', image: 'phi-mesh-guard:0.1.0', replicas: 2, serviceName: 'phi-mesh-guard' });
    expect(parseStream(stringifyManifests(documents))).toEqual(await loadBaseObjects());
  });

  it('keeps the comments of the base files', async () => {
    const documents = renderManifests(await readBaseManifests(), { namespace: 'phi-mesh-guard', image: 'x:1', replicas: 2, serviceName: 'phi-mesh-guard' });
    expect(stringifyManifests(documents)).toContain('# Correctness does not depend on where this configuration runs');
  });

  it('reports a base without its Deployment', async () => {
    const base = (await readBaseManifests()).filter(({ document }) => document.get('kind') !== 'Deployment');
    expect(() => renderManifests(base, { namespace: 'a', image: 'x:1', replicas: 2, serviceName: 'a' })).toThrow(
      new InputError('the deployment manifests have no Deployment; the manifests/ folder of this installation is incomplete'),
    );
  });
});

describe('manifests command', () => {
  it('prints the install for a namespace, image, replicas and CA', async () => {
    const { dir, caPem } = certificateFolder('admission', 'guard-system');
    const result = await runCli(['manifests', '--namespace', 'guard-system', '--image', 'registry.example/guard:1.2.3', '--replicas', '3', '--service', 'admission', '--certs', dir]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    const objects = parseStream(result.stdout);
    expect(objects.map((object) => object.kind)).toEqual((await loadBaseObjects()).map((object) => object.kind));
    expect(single(objects, 'Namespace').metadata.name).toBe('guard-system');
    expect(single(objects, 'Deployment').spec.template.spec.containers[0].image).toBe('registry.example/guard:1.2.3');
    expect(single(objects, 'Deployment').spec.replicas).toBe(3);
    for (const kind of webhookKinds) {
      for (const webhook of single(objects, kind).webhooks as Manifest[]) {
        expect(Buffer.from(webhook.clientConfig.caBundle as string, 'base64').toString('utf8')).toBe(caPem);
        expect(webhook.clientConfig.service).toMatchObject({ namespace: 'guard-system', name: 'admission' });
      }
    }
  });

  it('exits 2 with usage for a bad option', async () => {
    const result = await runCli(['manifests', '--image', 'x:1', '--replicas', '1']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('phi-mesh-guard manifests: --replicas must be a whole number of 2 or more, found "1"');
    expect(result.stderr).toContain(manifestsUsage);
  });

});

describe('manifests command with the base values', () => {
  let result: CommandResult;

  beforeAll(async () => {
    result = await runCli(['manifests', '--image', 'phi-mesh-guard:0.1.0']);
  });

  it('leaves caBundle out without --certs', () => {
    expect(result.status).toBe(0);
    const objects = parseStream(result.stdout);
    for (const kind of webhookKinds) {
      for (const webhook of single(objects, kind).webhooks as Manifest[]) {
        expect(webhook.clientConfig).not.toHaveProperty('caBundle');
      }
    }
    expect(result.stdout).toMatch(/^# phi-mesh-guard for namespace phi-mesh-guard, Service phi-mesh-guard, image phi-mesh-guard:0\.1\.0, 2 replicas\.\n/);
  });

  it.skipIf(kubectl === undefined)('matches kubectl kustomize (skipped without kubectl)', async () => {
    const key = (object: Manifest): string => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const printed = parseStream(result.stdout);
    const kustomized = parseStream(await kustomize(manifestsFolder));
    expect(printed.map(key).sort()).toEqual(kustomized.map(key).sort());
    for (const object of printed) {
      expect(kustomized.find((candidate) => key(candidate) === key(object))).toEqual(object);
    }
  });
});

describe('runManifests rejects', () => {
  it.each([
    ['a missing image', [], 'manifests needs --image IMAGE'],
    ['an image with spaces', ['--image', 'a b'], '--image must be an image reference without spaces, found "a b"'],
    [
      'an invalid namespace',
      ['--image', 'x:1', '--namespace', 'Guard'],
      '--namespace must be a DNS label (lower-case letters, digits and "-", at most 63 characters), found "Guard"',
    ],
    [
      'a reserved namespace',
      ['--image', 'x:1', '-n', 'istio-system'],
      '--namespace istio-system is reserved, because the webhooks exclude it or give it an entry of its own; choose a namespace for the guard alone, such as phi-mesh-guard',
    ],
    ['a Service name starting with a digit', ['--image', 'x:1', '--service', '1hook'], '--service must be a DNS label that starts with a letter, found "1hook"'],
    [
      'one replica',
      ['--image', 'x:1', '--replicas', '1'],
      '--replicas must be a whole number of 2 or more, found "1": the webhooks fail closed, so a single replica stops admission ' +
        'whenever it restarts, and the PodDisruptionBudget (minAvailable 1) would block every node drain',
    ],
    ['a fractional replica count', ['--image', 'x:1', '--replicas', '2.5'], '--replicas must be a whole number of 2 or more, found "2.5"'],
  ])('%s', async (_name, args, message) => {
    const error = await runManifests(args).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message.startsWith(message)).toBe(true);
  });

  it('a certificate for another namespace', async () => {
    const { dir } = certificateFolder('phi-mesh-guard', 'phi-mesh-guard');
    await expect(runManifests(['--image', 'x:1', '--namespace', 'other', '--certs', dir])).rejects.toThrow(
      new InputError(
        `${join(dir, 'tls.crt')} is valid for DNS:phi-mesh-guard, DNS:phi-mesh-guard.phi-mesh-guard, DNS:phi-mesh-guard.phi-mesh-guard.svc, ` +
          'DNS:phi-mesh-guard.phi-mesh-guard.svc.cluster.local, not for phi-mesh-guard.other.svc, which the webhooks call; ' +
          'run "phi-mesh-guard certs" again with the --namespace and --service given here',
      ),
    );
  });

  it('a serving certificate from another CA', async () => {
    const { dir } = certificateFolder('phi-mesh-guard', 'phi-mesh-guard');
    writeFileSync(join(dir, 'ca.crt'), certificateFolder('phi-mesh-guard', 'phi-mesh-guard').caPem);
    await expect(runManifests(['--image', 'x:1', '--certs', dir])).rejects.toThrow(
      new InputError(`${join(dir, 'tls.crt')} is not signed by the CA in ${join(dir, 'ca.crt')}; write both with the same "phi-mesh-guard certs" run`),
    );
  });

  it('a folder without ca.crt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-manifests-'));
    await expect(runManifests(['--image', 'x:1', '--certs', dir])).rejects.toThrow(/^cannot read the CA certificate .*ca\.crt: ENOENT/);
  });

  it('a ca.crt without a certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-manifests-'));
    writeFileSync(join(dir, 'ca.crt'), 'not a certificate\n');
    await expect(runManifests(['--image', 'x:1', '--certs', dir])).rejects.toThrow(
      new InputError(`${join(dir, 'ca.crt')} contains no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`),
    );
  });

  it('a serving certificate given as the CA', async () => {
    const { dir, certPem } = certificateFolder('phi-mesh-guard', 'phi-mesh-guard');
    writeFileSync(join(dir, 'ca.crt'), certPem);
    const error = await runManifests(['--image', 'x:1', '--certs', dir]).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CertificateError);
    expect((error as Error).message).toMatch(/which is not a CA certificate; use ca\.crt, not tls\.crt$/);
  });
});
