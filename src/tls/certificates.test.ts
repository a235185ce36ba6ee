import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { certificateExpiry, createCertificateSet, serviceDnsNames } from './certificates.js';

const dayMs = 24 * 60 * 60 * 1000;
const serverAuthOid = '1.3.6.1.5.5.7.3.1';

/** Key usage bits as decoded from the certificate's DER, which Node's X509Certificate does not expose. */
function keyUsageBits(pem: string): Record<string, boolean> {
  const extension = forge.pki.certificateFromPem(pem).getExtension('keyUsage') as Record<string, unknown> | undefined;
  expect(extension).toBeDefined();
  const bits: Record<string, boolean> = {};
  for (const name of ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign']) {
    bits[name] = extension![name] === true;
  }
  return bits;
}

describe('serviceDnsNames', () => {
  it.each([
    { name: 'default domain', domain: undefined, last: 'phi-mesh-guard.guard-system.svc.cluster.local' },
    { name: 'custom domain', domain: 'hospital.internal', last: 'phi-mesh-guard.guard-system.svc.hospital.internal' },
  ])('lists the four names with $name', ({ domain, last }) => {
    expect(serviceDnsNames('phi-mesh-guard', 'guard-system', domain)).toEqual([
      'phi-mesh-guard',
      'phi-mesh-guard.guard-system',
      'phi-mesh-guard.guard-system.svc',
      last,
    ]);
  });
});

describe('createCertificateSet', () => {
  const dnsNames = serviceDnsNames('phi-mesh-guard', 'phi-mesh-guard');
  const before = Date.now();
  const set = createCertificateSet({ dnsNames, validityDays: 90 });
  const ca = new X509Certificate(set.caCertPem);
  const leaf = new X509Certificate(set.certPem);

  it('marks the CA as a CA that signs certificates', () => {
    expect(ca.ca).toBe(true);
    expect(keyUsageBits(set.caCertPem)).toEqual({
      digitalSignature: false,
      nonRepudiation: false,
      keyEncipherment: false,
      dataEncipherment: false,
      keyAgreement: false,
      keyCertSign: true,
      cRLSign: true,
    });
    expect(ca.subject).toBe('CN=phi-mesh-guard webhook CA');
  });

  it('limits the serving certificate to server use', () => {
    expect(leaf.ca).toBe(false);
    expect(keyUsageBits(set.certPem)).toEqual({
      digitalSignature: true,
      nonRepudiation: false,
      keyEncipherment: true,
      dataEncipherment: false,
      keyAgreement: false,
      keyCertSign: false,
      cRLSign: false,
    });
    expect(leaf.keyUsage).toEqual([serverAuthOid]);
  });

  it('names every DNS name in subjectAltName', () => {
    expect(leaf.subjectAltName).toBe(dnsNames.map((name) => `DNS:${name}`).join(', '));
    expect(leaf.subject).toBe('CN=phi-mesh-guard');
  });

  it('signs the serving certificate with the CA', () => {
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.issuer).toBe(ca.subject);
  });

  it('expires both certificates after the requested days', () => {
    const expected = before + 90 * dayMs;
    for (const certificate of [ca, leaf]) {
      const notAfter = Date.parse(certificate.validTo);
      expect(Math.abs(notAfter - expected)).toBeLessThan(60_000);
    }
    expect(Math.abs(set.notAfter.getTime() - expected)).toBeLessThan(60_000);
  });

  it('backdates notBefore by five minutes for clock skew', () => {
    const notBefore = Date.parse(leaf.validFrom);
    expect(before - notBefore).toBeGreaterThanOrEqual(5 * 60_000 - 1000);
    expect(before - notBefore).toBeLessThan(5 * 60_000 + 60_000);
  });

  it('reports notAfter as certificateExpiry reads it', () => {
    expect(certificateExpiry(set.certPem).getTime()).toBe(Math.floor(set.notAfter.getTime() / 1000) * 1000);
  });

  it('writes PEM with LF line endings', () => {
    for (const pem of [set.caCertPem, set.caKeyPem, set.certPem, set.keyPem]) {
      expect(pem).not.toContain('\r');
      expect(pem.endsWith('\n')).toBe(true);
    }
  });

  it('rejects a request without names', () => {
    expect(() => createCertificateSet({ dnsNames: [], validityDays: 1 })).toThrow(
      'a serving certificate needs at least one DNS name or IP address',
    );
  });
});
