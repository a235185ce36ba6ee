import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DecisionRecorder } from '../../src/records/recorder.js';
import { runCli } from '../support/cli.js';

async function writeChain(count: number): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'phi-mesh-guard-records-')), 'decisions.jsonl');
  const recorder = await DecisionRecorder.open({ path, replica: 'guard-0', fsyncIntervalMs: 0 });
  for (let index = 0; index < count; index += 1) {
    await recorder.append(
      {
        uid: `uid-${index}`,
        operation: 'CREATE',
        group: '',
        version: 'v1',
        kind: 'Pod',
        subResource: '',
        namespace: 'claims',
        name: `worker-${index}`,
        user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: [] },
        dryRun: false,
      },
      { decision: 'allow', mode: 'enforce', violations: [], patch: [] },
      null,
    );
  }
  await recorder.close();
  return path;
}

describe('phi-mesh-guard records verify', () => {
  it('exits 0 for an intact chain', async () => {
    const path = await writeChain(3);
    const result = await runCli(['records', 'verify', path]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^chain intact: 3 records in 1 file, last hash [0-9a-f]{64}\n$/);
  });

  it.each([
    { name: 'altered line', tamper: (lines: string[]) => lines.map((line, index) => (index === 1 ? line.replace('"allow"', '"deny"') : line)), line: 2 },
    { name: 'removed line', tamper: (lines: string[]) => lines.filter((_, index) => index !== 1), line: 2 },
    { name: 'reordered lines', tamper: (lines: string[]) => [lines[0]!, lines[2]!, lines[1]!, lines[3]!], line: 2 },
  ])('exits 1 naming the first broken line for $name', async ({ tamper, line }) => {
    const path = await writeChain(4);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    writeFileSync(path, `${tamper(lines).join('\n')}\n`);
    const result = await runCli(['records', 'verify', path]);
    expect(result.status).toBe(1);
    expect(result.stdout.startsWith(`chain broken at ${path}:${line}: `)).toBe(true);
  });

  it('exits 2 for a missing file', async () => {
    const result = await runCli(['records', 'verify', '/nonexistent/decisions.jsonl']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^phi-mesh-guard: cannot read decision records: /);
  });
});
