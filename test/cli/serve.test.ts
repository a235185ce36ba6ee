import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/records/verify.js';
import { runCli, spawnCli } from '../support/cli.js';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function post(port: number, ca: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, path, method: 'POST', ca, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
  let seen = '';
  for await (const chunk of stream) {
    seen += (chunk as Buffer).toString('utf8');
    const line = seen.split('\n').find((candidate) => pattern.test(candidate));
    if (line !== undefined) {
      return line;
    }
  }
  throw new Error(`stream ended before a line matched ${pattern}; output was:\n${seen}`);
}

describe('phi-mesh-guard serve', () => {
  it('exits 2 listing every configuration problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-serve-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'defaultMode: strict\nserver:\n  port: 0\nrecords:\n  fsync: true\n');
    const result = await runCli(['serve', '--config', file]);
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe(`phi-mesh-guard serve: invalid configuration from ${file}:`);
    expect(lines.slice(1).map((line) => line.split(':')[0]).sort()).toEqual(['  - defaultMode', '  - records', '  - server.port']);
  });

  it('serves reviews over TLS, records them and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-serve-'));
    const port = await freePort();
    const records = join(dir, 'decisions.jsonl');
    const child = spawnCli([
      'serve',
      '--port', String(port),
      '--cert-dir', join(dir, 'certs'),
      '--records', records,
      '--cluster-state', 'examples/patient-records/compliant/namespace.yaml',
    ]);
    try {
      const started = JSON.parse(await waitForLine(child.stdout!, /"msg":"phi-mesh-guard serving"/)) as Record<string, unknown>;
      expect(started).toMatchObject({ port, defaultMode: 'enforce', records, clusterStateFiles: 1 });

      const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
      const review = readFileSync('examples/reviews/peerauthentication-permissive.json', 'utf8');
      const denied = await post(port, ca, '/validate', review);
      expect(denied.status).toBe(200);
      expect(JSON.parse(denied.body).response).toMatchObject({ allowed: false, status: { code: 403 } });

      const malformed = await post(port, ca, '/validate', '{');
      expect(malformed.status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
    const [status] = (await once(child, 'exit')) as [number | null];
    expect(status).toBe(0);
    expect(await verifyChain([records])).toMatchObject({ ok: true, records: 1 });
  });
});
