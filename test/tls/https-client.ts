import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface TlsResult {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint256: string;
}

/**
 * Sends GET `path` over a new connection to 127.0.0.1 with SNI `servername`,
 * trusting only `ca`. Node's default checkServerIdentity checks the name, so a
 * name missing from the certificate rejects with ERR_TLS_CERT_ALTNAME_INVALID.
 */
export function getOverTls(port: number, options: { servername?: string; ca: string; path?: string }): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    let fingerprint256 = '';
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        ca: options.ca,
        ...(options.servername !== undefined ? { servername: options.servername } : {}),
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), fingerprint256 }));
        response.on('error', reject);
      },
    );
    outgoing.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        fingerprint256 = (socket as TLSSocket).getPeerCertificate().fingerprint256;
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Starts an HTTPS server on 127.0.0.1 and an OS-chosen port that responds 200 "ok" to every request. */
export async function startHttpsServer(cert: string, key: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (_req, res) => {
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
