import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectl, kustomize, loadBaseObjects, type Manifest, manifestsFolder, repository } from './support.js';

function yamlFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function parseFile(file: string): Manifest[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const document of documents) {
    expect(document.errors.map((error) => error.message)).toEqual([]);
  }
  return documents.filter((document) => document.contents !== null).map((document) => document.toJS() as Manifest);
}

const manifestFiles = yamlFiles(manifestsFolder).map((file) => [relative(repository, file), file] as const);

describe('files under manifests/', () => {
  it('include the base and the cert-manager overlay', () => {
    const names = manifestFiles.map(([name]) => name);
    expect(names).toContain('manifests/kustomization.yaml');
    expect(names).toContain('manifests/base/kustomization.yaml');
    expect(names).toContain('manifests/overlays/cert-manager/kustomization.yaml');
  });

  it.each(manifestFiles)('%s parses into objects with apiVersion and kind', (_name, file) => {
    const objects = parseFile(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      expect(typeof object.apiVersion).toBe('string');
      expect(typeof object.kind).toBe('string');
    }
  });

  it('top-level kustomization includes the base only', () => {
    const [kustomization] = parseFile(join(manifestsFolder, 'kustomization.yaml'));
    expect(kustomization!.resources).toEqual(['base']);
  });

  it('base kustomization lists every base file once', () => {
    const baseFolder = join(manifestsFolder, 'base');
    const [kustomization] = parseFile(join(baseFolder, 'kustomization.yaml'));
    const onDisk = readdirSync(baseFolder).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
    expect([...(kustomization!.resources as string[])].sort()).toEqual(onDisk.sort());
    expect(new Set(kustomization!.resources as string[]).size).toBe(onDisk.length);
  });

  it('base lists the webhook configurations last', async () => {
    const kinds = (await loadBaseObjects()).map((object) => object.kind as string);
    expect(kinds.slice(-2)).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
  });

  it.skipIf(kubectl === undefined)('kubectl kustomize renders the base objects (skipped without kubectl)', async () => {
    const rendered = parseAllDocuments(await kustomize(manifestsFolder)).map((document) => document.toJS() as Manifest);
    const key = (object: Manifest): string => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const base = await loadBaseObjects();
    expect(rendered.map(key).sort()).toEqual(base.map(key).sort());
    for (const object of base) {
      expect(rendered.find((candidate) => key(candidate) === key(object))).toEqual(object);
    }
  });
});

describe('test copies of the Istio CRDs', () => {
  const file = join(repository, 'test/crds/istio-crds.yaml');
  const crds = parseFile(file);

  it('name the Istio release they match', () => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const header = lines.slice(0, lines.findIndex((line) => !line.startsWith('#'))).join('\n');
    expect(header).toContain('Istio 1.28');
    expect(header).toContain('deliberately permissive');
  });

  it.each([
    ['PeerAuthentication', 'security.istio.io', 'peerauthentications', ['v1', 'v1beta1']],
    ['AuthorizationPolicy', 'security.istio.io', 'authorizationpolicies', ['v1', 'v1beta1']],
    ['DestinationRule', 'networking.istio.io', 'destinationrules', ['v1', 'v1beta1', 'v1alpha3']],
  ])('%s is namespaced in %s with v1 stored', (kind, group, plural, versions) => {
    const crd = crds.find((candidate) => candidate.spec.names.kind === kind)!;
    expect(crd.metadata.name).toBe(`${plural}.${group}`);
    expect(crd.spec.group).toBe(group);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.versions.map((version: Manifest) => version.name)).toEqual(versions);
    expect(crd.spec.versions.every((version: Manifest) => version.served === true)).toBe(true);
    expect(crd.spec.versions.filter((version: Manifest) => version.storage === true).map((version: Manifest) => version.name)).toEqual(['v1']);
    for (const version of crd.spec.versions as Manifest[]) {
      expect(version.schema.openAPIV3Schema.properties.spec['x-kubernetes-preserve-unknown-fields']).toBe(true);
    }
  });

  it('PeerAuthentication mode is an enum in every version', () => {
    const crd = crds.find((candidate) => candidate.spec.names.kind === 'PeerAuthentication')!;
    for (const version of crd.spec.versions as Manifest[]) {
      const spec = version.schema.openAPIV3Schema.properties.spec;
      expect(spec.properties.mtls.properties.mode.enum).toEqual(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
      expect(spec.properties.portLevelMtls.additionalProperties.properties.mode.enum).toEqual(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
    }
  });

  it('define exactly three CRDs', () => {
    expect(crds.map((crd) => crd.kind)).toEqual(['CustomResourceDefinition', 'CustomResourceDefinition', 'CustomResourceDefinition']);
  });
});
