import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Decision, RequestSummary } from '../engine/decision.js';
import { buildRecordLine, GENESIS_HASH, type DecisionRecord } from './record.js';
import { DecisionRecorder } from './recorder.js';
import { verifyChain } from './verify.js';

const request: RequestSummary = {
  uid: 'uid-0',
  operation: 'UPDATE',
  group: 'networking.istio.io',
  version: 'v1',
  kind: 'DestinationRule',
  subResource: '',
  namespace: 'billing',
  name: 'claims-api',
  user: { username: 'alice@example.com', groups: ['system:authenticated'] },
  dryRun: false,
};

const denied: Decision = {
  decision: 'deny',
  mode: 'enforce',
  violations: [{ rule: 'tls-origination', message: 'trafficPolicy.tls.mode is DISABLE', controls: ['164.312(e)(1)'] }],
  patch: [],
};

/** Six lines of one chain, written by the real recorder. */
let chain: string[];
let records: DecisionRecord[];
let root: string;
let fileCount = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'phi-mesh-guard-verify-'));
  const recorder = await DecisionRecorder.open({ path: join(root, 'source.jsonl'), replica: 'guard-0' });
  records = await Promise.all(
    [1, 2, 3, 4, 5, 6].map((index) => recorder.append({ ...request, uid: `uid-${index}` }, denied, null)),
  );
  await recorder.close();
  chain = (await readFile(recorder.path, 'utf8')).split('\n').filter((line) => line !== '');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeLines(lines: string[], trailingNewline = true): Promise<string> {
  fileCount += 1;
  const path = join(root, `chain-${fileCount}.jsonl`);
  await writeFile(path, lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : ''));
  return path;
}

/** Returns a line for `seq` that links to `prevHash` and carries a valid hash of its own. */
function forgedLine(seq: number, prevHash: string): string {
  return buildRecordLine({
    request: { ...request, uid: `forged-${seq}` },
    decision: denied,
    objectSha256: null,
    seq,
    time: new Date('2025-01-01T00:00:00.000Z'),
    replica: 'guard-0',
    prevHash,
  }).line;
}

function swap(lines: string[], first: number, second: number): string[] {
  const copy = [...lines];
  [copy[first], copy[second]] = [copy[second]!, copy[first]!];
  return copy;
}

describe('verifyChain single file', () => {
  it('accepts intact chain', async () => {
    const path = await writeLines(chain);

    expect(await verifyChain([path])).toEqual({ ok: true, records: 6, files: 1, lastHash: records[5]!.hash });
  });

  it('accepts chain with rotated start', async () => {
    const path = await writeLines(chain.slice(2));

    expect(await verifyChain([path])).toEqual({ ok: true, records: 4, files: 1, lastHash: records[5]!.hash });
  });

  it('accepts file cut after whole line', async () => {
    // Removing whole lines from the end cannot be detected without an outside copy of lastHash.
    const path = await writeLines(chain.slice(0, 4));

    expect(await verifyChain([path])).toEqual({ ok: true, records: 4, files: 1, lastHash: records[3]!.hash });
  });

  it('accepts empty file list', async () => {
    expect(await verifyChain([])).toEqual({ ok: true, records: 0, files: 0, lastHash: null });
  });

  it.each([
    {
      name: 'altered field',
      lines: () => chain.map((line, index) => (index === 2 ? line.replace('"namespace":"billing"', '"namespace":"default"') : line)),
      line: 3,
      reason: 'hash-mismatch',
    },
    {
      name: 'altered and rehashed line',
      lines: () => chain.map((line, index) => (index === 2 ? forgedLine(3, records[1]!.hash) : line)),
      line: 4,
      reason: 'prev-hash-mismatch',
    },
    {
      name: 'reformatted line',
      lines: () => chain.map((line, index) => (index === 1 ? JSON.stringify(JSON.parse(line), null, 1).replace(/\n/g, '') : line)),
      line: 2,
      reason: 'hash-mismatch',
    },
    {
      name: 'hash moved to front',
      lines: () =>
        chain.map((line, index) => {
          if (index !== 1) {
            return line;
          }
          const { hash, ...rest } = JSON.parse(line) as DecisionRecord;
          return JSON.stringify({ hash, ...rest });
        }),
      line: 2,
      reason: 'hash-mismatch',
    },
    { name: 'deleted line', lines: () => chain.filter((_, index) => index !== 2), line: 3, reason: 'prev-hash-mismatch' },
    { name: 'swapped lines', lines: () => swap(chain, 2, 3), line: 3, reason: 'prev-hash-mismatch' },
    {
      name: 'duplicated line',
      lines: () => [...chain.slice(0, 3), chain[2]!, ...chain.slice(3)],
      line: 4,
      reason: 'prev-hash-mismatch',
    },
    {
      name: 'truncated last line',
      lines: () => [...chain.slice(0, 5), chain[5]!.slice(0, 40)],
      line: 6,
      reason: 'invalid-json',
    },
    { name: 'non-JSON line', lines: () => [chain[0]!, 'garbage', ...chain.slice(1)], line: 2, reason: 'invalid-json' },
    { name: 'blank line', lines: () => [chain[0]!, '', ...chain.slice(1)], line: 2, reason: 'invalid-json' },
    { name: 'JSON without chain fields', lines: () => [chain[0]!, '{"seq":2}', ...chain.slice(1)], line: 2, reason: 'invalid-record' },
    { name: 'JSON string line', lines: () => ['"text"', ...chain], line: 1, reason: 'invalid-record' },
    {
      name: 'seq gap with valid links',
      lines: () => [chain[0]!, forgedLine(3, records[0]!.hash)],
      line: 2,
      reason: 'seq-mismatch',
    },
  ])('reports $name', async ({ lines, line, reason }) => {
    const path = await writeLines(lines());

    const result = await verifyChain([path]);

    expect(result).toMatchObject({ ok: false, file: path, line, reason });
  });

  it('accepts file without trailing newline', async () => {
    const path = await writeLines(chain, false);

    expect(await verifyChain([path])).toMatchObject({ ok: true, records: 6 });
  });

  it('names both hashes on broken link', async () => {
    const path = await writeLines(chain.filter((_, index) => index !== 2));

    const result = await verifyChain([path]);

    expect(result).toEqual({
      ok: false,
      file: path,
      line: 3,
      reason: 'prev-hash-mismatch',
      message: `Record seq 4 has prevHash ${records[2]!.hash} but the record before it (seq 2) has hash ${records[1]!.hash}.`,
    });
  });
});

describe('verifyChain several files', () => {
  it('accepts two linked files', async () => {
    const first = await writeLines(chain.slice(0, 3));
    const second = await writeLines(chain.slice(3));

    expect(await verifyChain([first, second])).toEqual({ ok: true, records: 6, files: 2, lastHash: records[5]!.hash });
  });

  it('accepts empty file between linked files', async () => {
    const first = await writeLines(chain.slice(0, 3));
    const empty = await writeLines([]);
    const second = await writeLines(chain.slice(3));

    expect(await verifyChain([first, empty, second])).toMatchObject({ ok: true, records: 6, files: 3 });
  });

  it.each([
    {
      name: 'second file from new chain',
      second: () => [forgedLine(1, GENESIS_HASH), forgedLine(2, GENESIS_HASH)],
      reason: 'prev-hash-mismatch',
    },
    { name: 'files in wrong order', second: () => chain.slice(0, 3), reason: 'prev-hash-mismatch' },
    { name: 'gap between files', second: () => chain.slice(4), reason: 'prev-hash-mismatch' },
  ])('reports $name', async ({ second, reason }) => {
    const firstPath = await writeLines(chain.slice(3));
    const secondPath = await writeLines(second());

    const result = await verifyChain([firstPath, secondPath]);

    expect(result).toMatchObject({ ok: false, file: secondPath, line: 1, reason });
  });

  it('rejects missing file', async () => {
    await expect(verifyChain([join(root, 'missing.jsonl')])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
