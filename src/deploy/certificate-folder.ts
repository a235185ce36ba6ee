import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { encodeCaBundle } from '../tls/ca-bundle.js';

const pemCertificate = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads the CA certificate PEM from `dir`/ca.crt, as `phi-mesh-guard certs`
 * writes it. When `dir`/tls.crt exists too, checks that it is signed by a
 * certificate in ca.crt and is valid for `serviceHost`, because the API server
 * would reject a mismatch on every call, and the webhooks fail closed.
 * Raises InputError naming the file and the fix, or CertificateError when
 * ca.crt contains anything but CA certificates.
 */
export async function readCertificateFolder(dir: string, serviceHost: string): Promise<string> {
  const caFile = join(dir, 'ca.crt');
  const caPem = await readRequired(caFile);
  const authorities = parseCertificates(caPem, caFile);
  // Raises CertificateError for a key or a non-CA certificate in ca.crt.
  encodeCaBundle(caPem);

  const certFile = join(dir, 'tls.crt');
  const certPem = await readOptional(certFile);
  if (certPem !== undefined) {
    const [serving] = parseCertificates(certPem, certFile);
    checkServingCertificate(serving!, certFile, authorities, caFile, serviceHost);
  }
  return caPem;
}

function parseCertificates(text: string, file: string): X509Certificate[] {
  const blocks = text.match(pemCertificate) ?? [];
  if (blocks.length === 0) {
    throw new InputError(`${file} contains no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`);
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
      `${certFile} is valid for ${serving.subjectAltName ?? serving.subject}, not for ${serviceHost}, which the webhooks call; ` +
        'run "phi-mesh-guard certs" again with the --namespace and --service given here',
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
