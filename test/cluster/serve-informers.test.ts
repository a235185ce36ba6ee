import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runServe } from '../../src/cli/serve.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { spawnCli } from '../support/cli.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { waitFor } from './wait-for.js';

let fake: FakeApiServer | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function send(port: number, ca: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, path, method, ca, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Collects a child's standard output as log lines. */
function collectLines(stream: NodeJS.ReadableStream): string[] {
  const lines: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  return lines;
}

describe('serve with informers', () => {
  it('decides from the live cluster view', async () => {
    fake = await FakeApiServer.start();
    const server = fake;
    const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-serve-informers-'));
    const kubeconfig = join(dir, 'kubeconfig');
    server.writeKubeconfig(kubeconfig);
    const port = await freePort();
    const child = spawnCli(['serve', '--port', String(port), '--cert-dir', join(dir, 'certs'), '--records', join(dir, 'decisions.jsonl'), '--kubeconfig', kubeconfig]);
    const lines = collectLines(child.stdout!);

    try {
      await waitFor('the server to listen', () => lines.some((line) => line.includes('"msg":"phi-mesh-guard serving"')), 15_000);
      expect(JSON.parse(lines.find((line) => line.includes('"msg":"phi-mesh-guard serving"')) ?? '{}')).toMatchObject({ clusterView: 'informers' });
      await waitFor('the first sync', () => lines.some((line) => line.includes('"msg":"cluster view synced"')));
      const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
      expect((await send(port, ca, 'GET', '/readyz')).status).toBe(200);

      // A PERMISSIVE policy is denied only where the namespace holds PHI, which the
      // guard learns from the watched namespace labels.
      const review = readFileSync('examples/reviews/peerauthentication-permissive.json', 'utf8');
      const before = JSON.parse((await send(port, ca, 'POST', '/validate', review)).body) as { response: { allowed: boolean } };
      expect(before.response.allowed).toBe(true);

      server.putNamespace('patient-records', { 'phi-mesh-guard.io/phi': 'true' });
      let allowed = true;
      const deadline = Date.now() + 5_000;
      while (allowed && Date.now() < deadline) {
        const after = JSON.parse((await send(port, ca, 'POST', '/validate', review)).body) as { response: { allowed: boolean } };
        allowed = after.response.allowed;
      }
      expect(allowed).toBe(false);
    } finally {
      child.kill('SIGTERM');
    }
    const [status] = (await once(child, 'exit')) as [number | null];
    expect(status).toBe(0);
    await waitFor('the watches to close', () => server.openWatchCount('namespaces') === 0 && server.openWatchCount('peerauthentications') === 0);
  });

  it('both view sources rejected', async () => {
    const serve = runServe(['--cluster-state', 'examples/patient-records/compliant/namespace.yaml', '--kubeconfig', 'kubeconfig', '--log-level', 'silent']);

    await expect(serve).rejects.toThrow(UsageError);
    await expect(serve).rejects.toThrow(
      '--cluster-state and --kubeconfig cannot be combined: the first gives an offline cluster view, the second a live one',
    );
  });
});
