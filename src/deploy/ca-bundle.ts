import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';

const pemCertificate = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads `dir`/ca.crt and returns the webhook `caBundle` value: the base64 of its
 * PEM certificates. When `dir`/tls.crt exists too, checks that it is signed by
 * one of those certificates and names `serviceHost`, because the API server
 * would reject a mismatch on every call, and the webhooks fail closed.
 */
export async function readCaBundle(dir: string, serviceHost: string): Promise<string> {
  const caFile = join(dir, 'ca.crt');
  const caPem = await readRequired(caFile);
  const authorities = parseCertificates(caPem, caFile);

  const certFile = join(dir, 'tls.crt');
  const certPem = await readOptional(certFile);
  if (certPem !== undefined) {
    const [serving] = parseCertificates(certPem, certFile);
    checkServingCertificate(serving!, certFile, authorities, caFile, serviceHost);
  }
  return encodeCaBundle(authorities.map((certificate) => certificate.toString()).join(''));
}

/** The `caBundle` field value for PEM text: base64 of the PEM bytes. */
export function encodeCaBundle(pem: string): string {
  return Buffer.from(pem, 'utf8').toString('base64');
}

function parseCertificates(text: string, file: string): X509Certificate[] {
  const blocks = text.match(pemCertificate) ?? [];
  if (blocks.length === 0) {
    throw new InputError(`${file} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new InputError(`${file}: certificate ${index + 1} cannot be parsed: ${(error as Error).message}`, { cause: error });
    }
  });
}

function checkServingCertificate(
  serving: X509Certificate,
  certFile: string,
  authorities: readonly X509Certificate[],
  caFile: string,
  serviceHost: string,
): void {
  if (!authorities.some((authority) => serving.checkIssued(authority) && serving.verify(authority.publicKey))) {
    throw new InputError(`${certFile} is not signed by the CA in ${caFile}; write both with the same "phi-mesh-guard certs" run`);
  }
  if (serving.checkHost(serviceHost) === undefined) {
    throw new InputError(
      `${certFile} is for ${serving.subjectAltName ?? serving.subject}, but the webhooks call ${serviceHost}; ` +
        'create the certificates again for this namespace and service name',
    );
  }
}

async function readRequired(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the CA certificate ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw new InputError(`cannot read the serving certificate ${file}: ${(error as Error).message}`, { cause: error });
  }
}
