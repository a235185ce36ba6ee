import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { Decision, RequestSummary } from '../engine/decision.js';
import { GENESIS_HASH, type DecisionRecord } from './record.js';
import { DecisionRecorder, RecorderError, type RecorderOptions } from './recorder.js';
import { verifyChain } from './verify.js';

const request: RequestSummary = {
  uid: 'b7c9d0e2-0000-4a1b-9c3d-000000000001',
  operation: 'CREATE',
  group: '',
  version: 'v1',
  kind: 'Pod',
  subResource: '',
  namespace: 'billing',
  name: 'claims-api-0',
  user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
  dryRun: false,
};

const allowed: Decision = { decision: 'allow', mode: 'enforce', violations: [], patch: [] };

function requestNumber(index: number): RequestSummary {
  return { ...request, uid: `uid-${index}`, name: `claims-api-${index}` };
}

function simulatedIoError(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', syscall });
}

async function readRecords(path: string): Promise<DecisionRecord[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as DecisionRecord);
}

async function rejectionOf(promise: Promise<unknown>): Promise<RecorderError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(RecorderError);
  return error as RecorderError;
}

let root: string;
let fileHandlePrototype: FileHandle;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'phi-mesh-guard-recorder-'));
  // FileHandle is not exported, so spies attach to the prototype of a real handle.
  const probe = await open(join(root, 'probe'), 'w');
  fileHandlePrototype = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

let testDir: string;
let testCount = 0;

beforeEach(async () => {
  testCount += 1;
  testDir = join(root, `case-${testCount}`);
  await mkdir(testDir);
});

async function openRecorder(overrides: Partial<RecorderOptions> = {}): Promise<DecisionRecorder> {
  return DecisionRecorder.open({ path: join(testDir, 'decisions.jsonl'), replica: 'guard-0', ...overrides });
}

describe('DecisionRecorder chain', () => {
  it('appends linked records in order', async () => {
    const recorder = await openRecorder();

    const first = await recorder.append(requestNumber(1), allowed, 'c'.repeat(64));
    const second = await recorder.append(requestNumber(2), allowed, null);
    await recorder.close();

    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.replica).toBe('guard-0');
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first.hash);
    expect(await readRecords(recorder.path)).toEqual([first, second]);
    expect(await verifyChain([recorder.path])).toEqual({ ok: true, records: 2, files: 1, lastHash: second.hash });
  });

  it('creates missing parent folders', async () => {
    const path = join(testDir, 'nested', 'deeper', 'decisions.jsonl');
    const recorder = await DecisionRecorder.open({ path, replica: 'guard-0' });

    await recorder.append(request, allowed, null);
    await recorder.close();

    expect(await readRecords(path)).toHaveLength(1);
  });

  it('continues chain of existing file', async () => {
    const firstRun = await openRecorder();
    const before = await Promise.all([1, 2, 3].map((index) => firstRun.append(requestNumber(index), allowed, null)));
    await firstRun.close();

    const secondRun = await openRecorder({ replica: 'guard-1' });
    const after = await Promise.all([4, 5].map((index) => secondRun.append(requestNumber(index), allowed, null)));
    await secondRun.close();

    expect(secondRun.discardedTailBytes).toBe(0);
    expect(after[0]!.seq).toBe(4);
    expect(after[0]!.prevHash).toBe(before[2]!.hash);
    expect(await verifyChain([secondRun.path])).toEqual({ ok: true, records: 5, files: 1, lastHash: after[1]!.hash });
  });

  it('continues after last line longer than read chunk', async () => {
    const longPatch: Decision = {
      decision: 'mutate',
      mode: 'enforce',
      violations: [],
      patch: [{ op: 'add', path: '/metadata/annotations/note', value: 'x'.repeat(200_000) }],
    };
    const firstRun = await openRecorder();
    await firstRun.append(requestNumber(1), allowed, null);
    const long = await firstRun.append(requestNumber(2), longPatch, null);
    await firstRun.close();

    const secondRun = await openRecorder();
    const next = await secondRun.append(requestNumber(3), allowed, null);
    await secondRun.close();

    expect(next.seq).toBe(3);
    expect(next.prevHash).toBe(long.hash);
    expect(await verifyChain([secondRun.path])).toMatchObject({ ok: true, records: 3 });
  });

  it('keeps call order for 500 concurrent appends', async () => {
    const recorder = await openRecorder();
    const indexes = Array.from({ length: 500 }, (_, index) => index);

    const records = await Promise.all(indexes.map((index) => recorder.append(requestNumber(index), allowed, null)));
    await recorder.close();

    expect(records.map((record) => record.seq)).toEqual(indexes.map((index) => index + 1));
    expect(records.map((record) => record.uid)).toEqual(indexes.map((index) => `uid-${index}`));
    expect(await readRecords(recorder.path)).toEqual(records);
    expect(await verifyChain([recorder.path])).toEqual({ ok: true, records: 500, files: 1, lastHash: records[499]!.hash });
  });
});

describe('DecisionRecorder grouped fsync', () => {
  it.each([
    { name: 'default max batch', maxBatch: undefined, appends: 500, batches: 1 },
    { name: 'full batches', maxBatch: 100, appends: 500, batches: 5 },
    { name: 'partial last batch', maxBatch: 128, appends: 500, batches: 4 },
  ])('one write and fdatasync per batch: $name', async ({ maxBatch, appends, batches }) => {
    const recorder = await openRecorder(maxBatch === undefined ? {} : { maxBatch });
    const writes = vi.spyOn(fileHandlePrototype, 'write');
    const syncs = vi.spyOn(fileHandlePrototype, 'datasync');

    await Promise.all(Array.from({ length: appends }, (_, index) => recorder.append(requestNumber(index), allowed, null)));

    expect(syncs).toHaveBeenCalledTimes(batches);
    expect(writes).toHaveBeenCalledTimes(batches);
    await recorder.close();
    expect(await verifyChain([recorder.path])).toMatchObject({ ok: true, records: appends });
  });

  it('syncs each append after idle period', async () => {
    const recorder = await openRecorder();
    const syncs = vi.spyOn(fileHandlePrototype, 'datasync');

    await recorder.append(requestNumber(1), allowed, null);
    await recorder.append(requestNumber(2), allowed, null);
    await recorder.append(requestNumber(3), allowed, null);
    await recorder.close();

    expect(syncs).toHaveBeenCalledTimes(3);
  });

  it('close writes queued records without waiting', async () => {
    const recorder = await openRecorder({ fsyncIntervalMs: 60_000 });
    const started = Date.now();

    const pending = recorder.append(request, allowed, null);
    await recorder.close();
    const record = await pending;

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await readRecords(recorder.path)).toEqual([record]);
  });
});

describe('DecisionRecorder failures', () => {
  it('rejects open on directory path', async () => {
    const error = await rejectionOf(DecisionRecorder.open({ path: testDir, replica: 'guard-0' }));

    expect(error.code).toBe('RECORD_LOG_OPEN_FAILED');
    expect(error.message).toContain(testDir);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
  });

  it.each([
    { name: 'empty path', options: { path: '', replica: 'guard-0' }, message: /path is empty/ },
    { name: 'empty replica', options: { path: 'x.jsonl', replica: '' }, message: /replica is empty/ },
    { name: 'negative interval', options: { path: 'x.jsonl', replica: 'r', fsyncIntervalMs: -1 }, message: /fsyncIntervalMs.*-1/ },
    { name: 'zero max batch', options: { path: 'x.jsonl', replica: 'r', maxBatch: 0 }, message: /maxBatch.*got 0/ },
    { name: 'fractional max batch', options: { path: 'x.jsonl', replica: 'r', maxBatch: 1.5 }, message: /maxBatch.*1\.5/ },
  ])('rejects invalid option: $name', async ({ options, message }) => {
    await expect(DecisionRecorder.open(options)).rejects.toThrow(message);
  });

  it('rejects append after close', async () => {
    const recorder = await openRecorder();
    await recorder.close();

    const error = await rejectionOf(recorder.append(request, allowed, null));

    expect(error.code).toBe('RECORDER_CLOSED');
  });

  it.skipIf(!existsSync('/dev/full'))('rejects append on full device', async () => {
    // Linux /dev/full fails every write with ENOSPC and cannot be truncated.
    const recorder = await DecisionRecorder.open({ path: '/dev/full', replica: 'guard-0' });

    const writeError = await rejectionOf(recorder.append(request, allowed, null));
    const laterError = await rejectionOf(recorder.append(request, allowed, null));
    await recorder.close();

    expect(writeError.code).toBe('RECORD_WRITE_FAILED');
    expect(writeError.message).toBe('Writing decision records seq 1-1 to /dev/full failed, so the records were not stored.');
    expect((writeError.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(laterError.code).toBe('RECORDER_FAILED');
    expect((laterError.cause as NodeJS.ErrnoException).code).toBe('EINVAL');
  });

  it('rewinds chain after failed fdatasync', async () => {
    const recorder = await openRecorder();
    const kept = await recorder.append(requestNumber(1), allowed, null);
    vi.spyOn(fileHandlePrototype, 'datasync').mockRejectedValueOnce(simulatedIoError('fdatasync'));

    const error = await rejectionOf(recorder.append(requestNumber(2), allowed, null));
    const next = await recorder.append(requestNumber(3), allowed, null);
    await recorder.close();

    expect(error.code).toBe('RECORD_WRITE_FAILED');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EIO');
    expect(next.seq).toBe(2);
    expect(next.prevHash).toBe(kept.hash);
    expect((await readRecords(recorder.path)).map((record) => record.uid)).toEqual(['uid-1', 'uid-3']);
    expect(await verifyChain([recorder.path])).toMatchObject({ ok: true, records: 2 });
  });

  it('truncates partial write', async () => {
    const recorder = await openRecorder();
    await recorder.append(requestNumber(1), allowed, null);
    const sizeBefore = (await stat(recorder.path)).size;
    const realWrite = fileHandlePrototype.write as (this: FileHandle, data: Buffer, offset: number, length: number) => Promise<unknown>;
    vi.spyOn(fileHandlePrototype, 'write').mockImplementationOnce(async function (
      this: FileHandle,
      data: Buffer,
      offset: number,
      length: number,
    ) {
      await realWrite.call(this, data, offset, Math.floor(length / 2));
      throw simulatedIoError('write');
    } as never);

    const error = await rejectionOf(recorder.append(requestNumber(2), allowed, null));
    const sizeAfterFailure = (await stat(recorder.path)).size;
    await recorder.append(requestNumber(3), allowed, null);
    await recorder.close();

    expect(error.code).toBe('RECORD_WRITE_FAILED');
    expect(sizeAfterFailure).toBe(sizeBefore);
    expect(await verifyChain([recorder.path])).toMatchObject({ ok: true, records: 2 });
  });

  it('rejects records queued behind failed batch', async () => {
    const recorder = await openRecorder({ maxBatch: 2 });
    vi.spyOn(fileHandlePrototype, 'datasync').mockRejectedValueOnce(simulatedIoError('fdatasync'));

    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((index) => recorder.append(requestNumber(index), allowed, null)),
    );
    const next = await recorder.append(requestNumber(5), allowed, null);
    await recorder.close();

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    const queuedError = (results[3] as PromiseRejectedResult).reason as RecorderError;
    expect(queuedError.code).toBe('RECORD_WRITE_FAILED');
    expect(queuedError.message).toContain('writing the earlier records seq 1-2');
    expect(next.seq).toBe(1);
    expect(next.prevHash).toBe(GENESIS_HASH);
    expect(await verifyChain([recorder.path])).toMatchObject({ ok: true, records: 1 });
  });

  it('fails closed when truncation fails', async () => {
    const recorder = await openRecorder();
    await recorder.append(requestNumber(1), allowed, null);
    const realWrite = fileHandlePrototype.write as (this: FileHandle, data: Buffer, offset: number, length: number) => Promise<unknown>;
    vi.spyOn(fileHandlePrototype, 'write').mockImplementationOnce(async function (
      this: FileHandle,
      data: Buffer,
      offset: number,
      length: number,
    ) {
      await realWrite.call(this, data, offset, Math.floor(length / 2));
      throw simulatedIoError('write');
    } as never);
    vi.spyOn(fileHandlePrototype, 'truncate').mockRejectedValueOnce(simulatedIoError('ftruncate'));

    const writeError = await rejectionOf(recorder.append(requestNumber(2), allowed, null));
    const laterError = await rejectionOf(recorder.append(requestNumber(3), allowed, null));
    await recorder.close();

    expect(writeError.code).toBe('RECORD_WRITE_FAILED');
    expect(laterError.code).toBe('RECORDER_FAILED');
    expect(laterError.message).toContain('open the recorder again');
    expect(await verifyChain([recorder.path])).toMatchObject({ ok: false, line: 2, reason: 'invalid-json' });

    const reopened = await openRecorder();
    const next = await reopened.append(requestNumber(4), allowed, null);
    await reopened.close();

    expect(reopened.discardedTailBytes).toBeGreaterThan(0);
    expect(next.seq).toBe(2);
    expect(await verifyChain([reopened.path])).toMatchObject({ ok: true, records: 2 });
  });
});

describe('DecisionRecorder.open recovery', () => {
  it('truncates partial last line', async () => {
    const firstRun = await openRecorder();
    const kept = await firstRun.append(requestNumber(1), allowed, null);
    await firstRun.close();
    await appendFile(firstRun.path, '{"seq":2,"time":"2025-');

    const secondRun = await openRecorder();
    const next = await secondRun.append(requestNumber(2), allowed, null);
    await secondRun.close();

    expect(secondRun.discardedTailBytes).toBe('{"seq":2,"time":"2025-'.length);
    expect(next.prevHash).toBe(kept.hash);
    expect(await verifyChain([secondRun.path])).toMatchObject({ ok: true, records: 2 });
  });

  it('reads only tail of large file', async () => {
    const firstRun = await openRecorder();
    const written = await Promise.all(
      Array.from({ length: 4000 }, (_, index) => firstRun.append(requestNumber(index), allowed, null)),
    );
    await firstRun.close();
    const fileSize = (await stat(firstRun.path)).size;
    const reads = vi.spyOn(fileHandlePrototype, 'read');

    const secondRun = await openRecorder();
    await secondRun.close();

    const bytesRequested = reads.mock.calls.reduce((sum, call) => sum + Number((call as unknown[])[2]), 0);
    expect(reads).toHaveBeenCalled();
    expect(fileSize).toBeGreaterThan(1_000_000);
    expect(bytesRequested).toBeLessThanOrEqual(64 * 1024);
    expect(written[3999]!.seq).toBe(4000);
  });

  it('starts new chain when file has no newline', async () => {
    const path = join(testDir, 'decisions.jsonl');
    await writeFile(path, '\0\0\0\0');

    const recorder = await openRecorder();
    const first = await recorder.append(request, allowed, null);
    await recorder.close();

    expect(recorder.discardedTailBytes).toBe(4);
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
  });

  it.each([
    { name: 'not JSON', lastLine: 'not json', message: /is not valid JSON/ },
    { name: 'blank line', lastLine: '', message: /is not valid JSON/ },
    { name: 'JSON array', lastLine: '[1,2]', message: /is not a JSON object/ },
    { name: 'missing seq', lastLine: `{"hash":"${'a'.repeat(64)}"}`, message: /has no valid seq/ },
    { name: 'short hash', lastLine: '{"seq":3,"hash":"abc"}', message: /has no valid hash/ },
  ])('rejects corrupt last line: $name', async ({ lastLine, message }) => {
    const firstRun = await openRecorder();
    await firstRun.append(request, allowed, null);
    await firstRun.close();
    await appendFile(firstRun.path, `${lastLine}\n`);

    const error = await rejectionOf(openRecorder());

    expect(error.code).toBe('RECORD_LOG_CORRUPT');
    expect(error.message).toMatch(message);
  });
});

describe('DecisionRecorder file lock', () => {
  it('refuses a second recorder on one file until the first closes', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'phi-mesh-guard-lock-')), 'decisions.jsonl');
    const first = await DecisionRecorder.open({ path, replica: 'a' });
    const second = await DecisionRecorder.open({ path, replica: 'b' }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(RecorderError);
    expect((second as RecorderError).code).toBe('RECORD_LOG_LOCKED');
    expect((second as Error).message).toBe(`decision record file ${path} is already open in this process`);
    await first.close();
    const third = await DecisionRecorder.open({ path, replica: 'c' });
    await third.close();
  });

  it.each([
    { name: 'running process keeps it', owner: () => String(process.ppid), locked: true },
    { name: 'stale pid is taken over', owner: () => '2147483646', locked: false },
    { name: 'garbage is taken over', owner: () => 'not a pid', locked: false },
  ])('lock file of another process: $name', async ({ owner, locked }) => {
    const path = join(mkdtempSync(join(tmpdir(), 'phi-mesh-guard-lock-')), 'decisions.jsonl');
    writeFileSync(`${path}.lock`, `${owner()}\n`);
    const result = await DecisionRecorder.open({ path, replica: 'a' }).catch((error: unknown) => error);
    if (locked) {
      expect((result as RecorderError).code).toBe('RECORD_LOG_LOCKED');
      expect((result as Error).message).toContain(`is in use by process ${process.ppid}`);
    } else {
      expect(result).toBeInstanceOf(DecisionRecorder);
      await (result as DecisionRecorder).close();
    }
  });
});
