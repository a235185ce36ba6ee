import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { answeredWebhookCalls } from './harness/apiserver-metrics.js';
import { E2eEnvironment } from './harness/environment.js';
import { repositoryRoot } from './harness/guard.js';

const env = new E2eEnvironment();

/** The fields of a decision record; `error` appears only on `error` decisions. */
const recordFields = [
  'seq',
  'time',
  'uid',
  'replica',
  'operation',
  'group',
  'version',
  'kind',
  'subResource',
  'namespace',
  'name',
  'user',
  'dryRun',
  'mode',
  'decision',
  'violations',
  'patch',
  'objectSha256',
  'error',
  'prevHash',
  'hash',
];

function verifyRecords(file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [env.settings.guard.entryPoint, 'records', 'verify', file], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('decision records after the suite', () => {
  it('hold one record per review the guard answered', async () => {
    const names = new Set([...env.settings.webhookNames.mutating, ...env.settings.webhookNames.validating]);

    const answered = await answeredWebhookCalls(env.settings.apiServer, names);
    const records = await env.records();

    const recorded = new Map<string, number>();
    for (const record of records) {
      recorded.set(record.operation, (recorded.get(record.operation) ?? 0) + 1);
    }
    expect(records.length).toBeGreaterThan(0);
    expect(Object.fromEntries(recorded)).toEqual(Object.fromEntries(answered));
  });

  it('have a unique uid each', async () => {
    const records = await env.records();

    expect(new Set(records.map((record) => record.uid)).size).toBe(records.length);
  });

  it('pass records verify', async () => {
    const records = await env.records();

    const result = await verifyRecords(env.settings.guard.recordsFile);

    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`chain intact: ${records.length} records in 1 file, last hash ${records.at(-1)!.hash}\n`);
    expect(result.status).toBe(0);
  });

  it('hold metadata only', async () => {
    const text = await readFile(env.settings.guard.recordsFile, 'utf8');
    const records = await env.records();

    expect(records.flatMap((record) => Object.keys(record)).filter((key) => !recordFields.includes(key))).toEqual([]);
    // Container images and the injector's annotation value come only from object bodies.
    expect(text).not.toContain('registry.example.org');
    expect(text).not.toContain('proxyv2');
    expect(text).not.toContain('imagePullSecrets');
  });
});
