import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GuardProcess } from './guard.js';

/**
 * A loopback HTTP endpoint through which test files stop and start the guard.
 * Test files run in worker processes, while the guard is a child of the main
 * vitest process; keeping every child there lets one teardown stop them all.
 *
 * POST /guard/stop answers `{ "exitCode": N }`; POST /guard/start answers
 * `{ "ready": true }` once the guard's /readyz answers 200.
 */
export async function startControlServer(guard: GuardProcess): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const reply = (status: number, body: object): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (request.method !== 'POST') {
      reply(405, { error: 'use POST' });
      return;
    }
    const action =
      request.url === '/guard/stop' ? guard.stop().then((exitCode) => ({ exitCode })) : request.url === '/guard/start' ? guard.start().then(() => ({ ready: true })) : undefined;
    if (action === undefined) {
      reply(404, { error: `no action ${request.url ?? ''}; use /guard/stop or /guard/start` });
      return;
    }
    action.then(
      (body) => reply(200, body),
      (error: unknown) => reply(500, { error: (error as Error).message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
