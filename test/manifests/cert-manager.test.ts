import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectl, kustomize, type Manifest, manifestsFolder, single } from './support.js';

const overlay = join(manifestsFolder, 'overlays/cert-manager');

function read(name: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(overlay, name), 'utf8')).map((document) => document.toJS() as Manifest);
}

const certificates = read('certificates.yaml');

describe('cert-manager overlay', () => {
  it('chains a self-signed issuer, a CA and a CA issuer', () => {
    expect(single(certificates, 'Issuer', 'phi-mesh-guard-selfsigned').spec).toEqual({ selfSigned: {} });
    const ca = single(certificates, 'Certificate', 'phi-mesh-guard-ca');
    expect(ca.spec.isCA).toBe(true);
    expect(ca.spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'Issuer', name: 'phi-mesh-guard-selfsigned' });
    expect(single(certificates, 'Issuer', 'phi-mesh-guard-ca').spec).toEqual({ ca: { secretName: ca.spec.secretName } });
  });

  it('issues the serving certificate into the Secret the Deployment mounts', () => {
    const serving = single(certificates, 'Certificate', 'phi-mesh-guard-serving');
    expect(serving.spec.secretName).toBe('phi-mesh-guard-tls');
    expect(serving.spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'Issuer', name: 'phi-mesh-guard-ca' });
    expect(serving.spec.dnsNames).toEqual(['phi-mesh-guard.phi-mesh-guard.svc', 'phi-mesh-guard.phi-mesh-guard.svc.cluster.local']);
    expect(serving.spec.usages).toContain('server auth');
  });

  it('annotates both webhook configurations with the serving certificate', () => {
    const [kustomization] = read('kustomization.yaml');
    expect(kustomization!.resources).toEqual(['../../base', 'certificates.yaml']);
    expect((kustomization!.patches as Manifest[]).map((patch) => patch.target.kind)).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    const [patch] = read('inject-ca.yaml');
    expect(patch!.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'phi-mesh-guard/phi-mesh-guard-serving' });
  });

  it.skipIf(kubectl === undefined)('kubectl kustomize renders the annotated overlay (skipped without kubectl)', async () => {
    const rendered = parseAllDocuments(await kustomize(overlay)).map((document) => document.toJS() as Manifest);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const configuration = single(rendered, kind, 'phi-mesh-guard');
      expect(configuration.metadata.annotations['cert-manager.io/inject-ca-from']).toBe('phi-mesh-guard/phi-mesh-guard-serving');
      for (const webhook of configuration.webhooks as Manifest[]) {
        expect(webhook.clientConfig).not.toHaveProperty('caBundle');
      }
    }
    expect(rendered.filter((object) => object.kind === 'Certificate')).toHaveLength(2);
    expect(rendered.filter((object) => object.kind === 'Issuer')).toHaveLength(2);
  });
});
