import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Creates a self-signed ECDSA P-256 certificate for `localhost` with the openssl
 * command, because node-forge, which the guard signs with, writes only RSA. The
 * cert-manager overlay issues ECDSA certificates, so the guard must load them.
 */
export function createEcdsaPair(): { certPem: string; keyPem: string } {
  const folder = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-ecdsa-'));
  const certFile = join(folder, 'tls.crt');
  const keyFile = join(folder, 'tls.key');
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', certFile],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (error) {
    throw new Error(`creating an ECDSA test certificate needs the openssl command (OpenSSL 1.1.1 or later): ${(error as Error).message}`, { cause: error });
  }
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}
