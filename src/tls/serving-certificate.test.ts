import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEcdsaPair } from '../../test/tls/ecdsa-pair.js';
import { captureLog } from '../../test/tls/log-capture.js';
import { CertificateError } from '../errors.js';
import { createCertificateSet } from './certificates.js';
import { inspectPair, loadServingCertificate } from './serving-certificate.js';

const first = createCertificateSet({ dnsNames: ['localhost'], validityDays: 30 });
const second = createCertificateSet({ dnsNames: ['localhost'], validityDays: 30 });

function temporaryFolder(): string {
  return mkdtempSync(join(tmpdir(), 'phi-mesh-guard-serving-'));
}

describe('inspectPair', () => {
  const files = { certFile: '/certs/tls.crt', keyFile: '/certs/tls.key' };

  it('returns notAfter and the fingerprint', () => {
    const details = inspectPair({ ...files, cert: first.certPem, key: first.keyPem });
    expect(details.fingerprint256).toBe(new X509Certificate(first.certPem).fingerprint256);
    expect(details.notAfter.getTime()).toBe(Math.floor(first.notAfter.getTime() / 1000) * 1000);
  });

  it('accepts an ECDSA pair as cert-manager issues it', () => {
    const ecdsa = createEcdsaPair();
    const details = inspectPair({ ...files, cert: ecdsa.certPem, key: ecdsa.keyPem });
    expect(details.fingerprint256).toBe(new X509Certificate(ecdsa.certPem).fingerprint256);
  });

  it.each([
    { name: 'key of another certificate', cert: first.certPem, key: second.keyPem, message: /^key \/certs\/tls\.key does not match certificate \/certs\/tls\.crt$/ },
    { name: 'truncated certificate', cert: first.certPem.slice(0, 200), key: first.keyPem, message: /^\/certs\/tls\.crt does not contain a PEM certificate: / },
    { name: 'empty key', cert: first.certPem, key: '', message: /^\/certs\/tls\.key does not contain a usable PEM private key: / },
    { name: 'certificate in the key file', cert: first.certPem, key: first.certPem, message: /^\/certs\/tls\.key does not contain a usable PEM private key: / },
  ])('rejects $name', ({ cert, key, message }) => {
    expect(() => inspectPair({ ...files, cert, key })).toThrow(CertificateError);
    expect(() => inspectPair({ ...files, cert, key })).toThrow(message);
  });

  it('keeps key material out of the message', () => {
    let message = '';
    try {
      inspectPair({ ...files, cert: first.certPem, key: first.keyPem.slice(0, 300) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^\/certs\/tls\.key does not contain a usable PEM private key: /);
    expect(message).not.toContain(first.keyPem.split('\n')[1]!);
  });
});

describe('loadServingCertificate', () => {
  it('reads a configured pair', async () => {
    const folder = temporaryFolder();
    await writeFile(join(folder, 'server.crt'), first.certPem);
    await writeFile(join(folder, 'server.key'), first.keyPem);
    const { logger } = captureLog();
    const loaded = await loadServingCertificate(
      { certDir: join(folder, 'unused'), certFile: join(folder, 'server.crt'), keyFile: join(folder, 'server.key') },
      logger,
    );
    expect(loaded.cert).toBe(first.certPem);
    expect(loaded.certFile).toBe(join(folder, 'server.crt'));
  });

  it('rejects a configured mismatched pair', async () => {
    const folder = temporaryFolder();
    await writeFile(join(folder, 'tls.crt'), first.certPem);
    await writeFile(join(folder, 'tls.key'), second.keyPem);
    const { logger } = captureLog();
    await expect(
      loadServingCertificate({ certDir: folder, certFile: join(folder, 'tls.crt'), keyFile: join(folder, 'tls.key') }, logger),
    ).rejects.toThrow(`key ${join(folder, 'tls.key')} does not match certificate ${join(folder, 'tls.crt')}`);
  });

  it('creates a development certificate, then reuses it', async () => {
    const folder = join(temporaryFolder(), 'certs');
    const { logger, lines } = captureLog();
    const created = await loadServingCertificate({ certDir: folder }, logger);

    expect(created.certFile).toBe(join(folder, 'tls.crt'));
    expect(new X509Certificate(created.cert).subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect((await stat(join(folder, 'tls.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(folder, 'ca.key'))).mode & 0o777).toBe(0o600);

    const reused = await loadServingCertificate({ certDir: folder }, logger);
    expect(reused.cert).toBe(created.cert);
    expect(lines.map((line) => line.msg)).toEqual(['created development certificate', 'reusing development certificate']);
  });

  it('replaces an expired development certificate', async () => {
    const folder = temporaryFolder();
    const expired = createCertificateSet({ dnsNames: ['localhost'], validityDays: 0 });
    await writeFile(join(folder, 'tls.crt'), expired.certPem);
    await writeFile(join(folder, 'tls.key'), expired.keyPem, { mode: 0o600 });
    const { logger, lines } = captureLog();
    const loaded = await loadServingCertificate({ certDir: folder }, logger);

    expect(loaded.cert).not.toBe(expired.certPem);
    expect(await readFile(join(folder, 'tls.crt'), 'utf8')).toBe(loaded.cert);
    expect(lines.map((line) => line.msg)).toEqual(['development certificate expired; creating a new one', 'created development certificate']);
  });
});
