import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CertificateError } from '../errors.js';
import { createCertificateSet } from './certificates.js';

export interface ServingCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  notAfter: Date;
}

const developmentValidityDays = 365;

/**
 * Loads the configured certificate and key, or, when none is configured, a
 * development CA and serving certificate for `localhost` and `127.0.0.1` in
 * `certDir`, created on the first start and reused afterwards.
 */
export async function loadServingCertificate(
  settings: { certDir: string; certFile?: string | undefined; keyFile?: string | undefined },
  logger: Logger,
): Promise<ServingCertificate> {
  if (settings.certFile !== undefined && settings.keyFile !== undefined) {
    return readPair(settings.certFile, settings.keyFile);
  }

  const certFile = join(settings.certDir, 'tls.crt');
  const keyFile = join(settings.certDir, 'tls.key');
  const caFile = join(settings.certDir, 'ca.crt');
  try {
    const existing = await readPair(certFile, keyFile);
    if (existing.notAfter.getTime() > Date.now()) {
      logger.info({ caFile, certFile, notAfter: existing.notAfter.toISOString() }, 'reusing development certificate');
      return existing;
    }
    logger.info({ caFile, certFile, notAfter: existing.notAfter.toISOString() }, 'development certificate expired; creating a new one');
  } catch {
    // No usable development certificate yet: create one below.
  }

  const set = createCertificateSet({
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: developmentValidityDays,
    caCommonName: 'phi-mesh-guard development CA',
  });
  try {
    await mkdir(settings.certDir, { recursive: true });
    await writeFile(caFile, set.caCertPem);
    await writeFile(join(settings.certDir, 'ca.key'), set.caKeyPem, { mode: 0o600 });
    await writeFile(certFile, set.certPem);
    await writeFile(keyFile, set.keyPem, { mode: 0o600 });
    await chmod(keyFile, 0o600);
  } catch (error) {
    throw new CertificateError(`cannot write development certificates to ${settings.certDir}: ${(error as Error).message}`, { cause: error });
  }
  logger.info({ caFile, certFile, notAfter: set.notAfter.toISOString() }, 'created development certificate');
  return { certFile, keyFile, cert: set.certPem, key: set.keyPem, notAfter: set.notAfter };
}

/** Reads a certificate and its key and checks that they belong together; raises CertificateError otherwise. */
export async function readPair(certFile: string, keyFile: string): Promise<ServingCertificate> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (error) {
    throw new CertificateError(`cannot read certificate ${certFile} or key ${keyFile}: ${(error as Error).message}`, { cause: error });
  }
  const { notAfter } = inspectPair({ certFile, keyFile, cert, key });
  return { certFile, keyFile, cert, key, notAfter };
}

export interface PairDetails {
  notAfter: Date;
  /** SHA-256 fingerprint of the first certificate, colon-separated hex as `getPeerCertificate()` shows it. */
  fingerprint256: string;
}

/**
 * Parses the first certificate in `cert` and the private key in `key`, and checks
 * that the key belongs to the certificate, so a pair caught halfway through an
 * update is rejected before a TLS server uses it. Raises CertificateError naming
 * the file at fault; the message never contains key material.
 */
export function inspectPair(pair: { certFile: string; keyFile: string; cert: string; key: string }): PairDetails {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.cert);
  } catch (error) {
    throw new CertificateError(`${pair.certFile} does not contain a PEM certificate: ${(error as Error).message}`, { cause: error });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(pair.key);
  } catch (error) {
    throw new CertificateError(`${pair.keyFile} does not contain a usable PEM private key: ${(error as Error).message}`, { cause: error });
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new CertificateError(`key ${pair.keyFile} does not match certificate ${pair.certFile}`);
  }
  return { notAfter: new Date(certificate.validTo), fingerprint256: certificate.fingerprint256 };
}
