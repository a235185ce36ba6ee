import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CertificateError, InputError } from '../errors.js';
import { encodeCaBundle, listWebhookServices, renderCaBundle } from './ca-bundle.js';
import { createCertificateSet } from './certificates.js';

const set = createCertificateSet({ dnsNames: ['phi-mesh-guard.phi-mesh-guard.svc'], validityDays: 1 });
const otherSet = createCertificateSet({ dnsNames: ['phi-mesh-guard.phi-mesh-guard.svc'], validityDays: 1 });
const caBundle = Buffer.from(set.caCertPem).toString('base64');

const webhookYaml = `# Webhook configurations for phi-mesh-guard.
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: phi-mesh-guard
webhooks:
  - name: mutate.phi-mesh-guard.io # the pod and namespace mutation
    admissionReviewVersions: [v1]
    clientConfig:
      service:
        name: phi-mesh-guard
        namespace: phi-mesh-guard
        path: /mutate
    sideEffects: None
---
apiVersion: v1
kind: Service
metadata:
  name: phi-mesh-guard
  namespace: phi-mesh-guard
spec:
  ports: [{ port: 443, targetPort: 8443 }]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: phi-mesh-guard
webhooks:
  - name: validate-phi.phi-mesh-guard.io
    clientConfig:
      caBundle: b2xk
      service: { name: phi-mesh-guard, namespace: phi-mesh-guard, path: /validate }
  - name: validate-istio-system.phi-mesh-guard.io
    clientConfig:
      url: https://phi-mesh-guard.example.org/validate
`;

function parse(text: string): Record<string, unknown>[] {
  return parseAllDocuments(text).map((document) => document.toJS() as Record<string, unknown>);
}

function caBundles(text: string): unknown[] {
  return parse(text).flatMap((object) =>
    ((object.webhooks as { clientConfig: { caBundle?: unknown } }[] | undefined) ?? []).map((webhook) => webhook.clientConfig.caBundle),
  );
}

describe('renderCaBundle', () => {
  const rendered = renderCaBundle(webhookYaml, set.caCertPem);

  it('sets caBundle on every webhook', () => {
    expect(caBundles(rendered)).toEqual([caBundle, caBundle, caBundle]);
  });

  it('encodes the CA PEM in base64', () => {
    expect(Buffer.from(caBundles(rendered)[0] as string, 'base64').toString('utf8')).toBe(set.caCertPem);
  });

  it('keeps other documents and fields', () => {
    const before = parse(webhookYaml);
    const after = parse(rendered);
    expect(after).toHaveLength(3);
    expect(after[1]).toEqual(before[1]);
    expect((after[0]!.webhooks as Record<string, unknown>[])[0]).toEqual({
      name: 'mutate.phi-mesh-guard.io',
      admissionReviewVersions: ['v1'],
      clientConfig: { service: { name: 'phi-mesh-guard', namespace: 'phi-mesh-guard', path: '/mutate' }, caBundle },
      sideEffects: 'None',
    });
  });

  it('keeps comments', () => {
    expect(rendered).toContain('# Webhook configurations for phi-mesh-guard.\n');
    expect(rendered).toContain('- name: mutate.phi-mesh-guard.io # the pod and namespace mutation\n');
  });

  it('writes the bundle on one line', () => {
    expect(rendered).toContain(`caBundle: ${caBundle}\n`);
  });

  it('fills webhook configurations inside a List', () => {
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingWebhookConfiguration
    metadata: { name: phi-mesh-guard }
    webhooks:
      - name: validate.phi-mesh-guard.io
        clientConfig: { service: { name: phi-mesh-guard, namespace: phi-mesh-guard } }
`;
    const [object] = parse(renderCaBundle(list, set.caCertPem));
    const items = object!.items as { webhooks: { clientConfig: { caBundle: string } }[] }[];
    expect(items[0]!.webhooks[0]!.clientConfig.caBundle).toBe(caBundle);
  });

  it('accepts a bundle of two CAs', () => {
    const both = `${set.caCertPem}${otherSet.caCertPem}`;
    const [first] = caBundles(renderCaBundle(webhookYaml, both));
    expect(Buffer.from(first as string, 'base64').toString('utf8')).toBe(both);
  });

  it.each([
    { name: 'invalid YAML', yaml: 'kind: ValidatingWebhookConfiguration\nwebhooks: [\n', message: /^document 0: invalid YAML: / },
    { name: 'no webhook configuration', yaml: 'apiVersion: v1\nkind: Service\nmetadata: { name: x }\n', message: /^the YAML contains no MutatingWebhookConfiguration or ValidatingWebhookConfiguration with webhooks$/ },
    { name: 'empty text', yaml: '', message: /^the YAML contains no MutatingWebhookConfiguration/ },
    {
      name: 'webhook without clientConfig',
      yaml: 'kind: MutatingWebhookConfiguration\nmetadata: { name: guard }\nwebhooks:\n  - name: mutate.phi-mesh-guard.io\n',
      message: /^webhook "mutate.phi-mesh-guard.io" in MutatingWebhookConfiguration\/guard has no clientConfig mapping to set caBundle on$/,
    },
    {
      name: 'webhook that is not a mapping',
      yaml: 'kind: MutatingWebhookConfiguration\nmetadata: { name: guard }\nwebhooks:\n  - mutate\n',
      message: /^webhooks\[0\] in MutatingWebhookConfiguration\/guard must be a mapping$/,
    },
  ])('rejects $name', ({ yaml, message }) => {
    expect(() => renderCaBundle(yaml, set.caCertPem)).toThrow(InputError);
    expect(() => renderCaBundle(yaml, set.caCertPem)).toThrow(message);
  });
});

describe('encodeCaBundle', () => {
  it.each([
    { name: 'empty text', pem: () => '', message: 'the CA bundle contains no PEM certificate' },
    { name: 'private key', pem: () => set.caKeyPem, message: 'the CA bundle contains a PEM block of type RSA PRIVATE KEY; it must contain only CA certificates (ca.crt, never a key)' },
    { name: 'CA followed by its key', pem: () => set.caCertPem + set.caKeyPem, message: 'the CA bundle contains a PEM block of type RSA PRIVATE KEY; it must contain only CA certificates (ca.crt, never a key)' },
    {
      name: 'serving certificate',
      pem: () => set.certPem,
      message: 'the CA bundle contains CN=phi-mesh-guard.phi-mesh-guard.svc, which is not a CA certificate; use ca.crt, not tls.crt',
    },
  ])('rejects $name', ({ pem, message }) => {
    expect(() => encodeCaBundle(pem())).toThrow(CertificateError);
    expect(() => encodeCaBundle(pem())).toThrow(message);
  });

  it('rejects a damaged certificate', () => {
    const damaged = set.caCertPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    expect(() => encodeCaBundle(damaged)).toThrow(/^the CA bundle contains a certificate that cannot be parsed: /);
  });
});

describe('listWebhookServices', () => {
  it('lists Services and skips url webhooks', () => {
    expect(listWebhookServices(webhookYaml)).toEqual([
      { configuration: 'MutatingWebhookConfiguration/phi-mesh-guard', webhook: 'mutate.phi-mesh-guard.io', service: 'phi-mesh-guard', namespace: 'phi-mesh-guard' },
      { configuration: 'ValidatingWebhookConfiguration/phi-mesh-guard', webhook: 'validate-phi.phi-mesh-guard.io', service: 'phi-mesh-guard', namespace: 'phi-mesh-guard' },
    ]);
  });
});
