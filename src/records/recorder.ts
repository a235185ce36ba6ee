import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { Decision, RequestSummary } from '../engine/decision.js';
import { lockRecordFile, RecordFileLockedError } from './file-lock.js';
import { buildRecordLine, GENESIS_HASH, type DecisionRecord } from './record.js';

export interface RecorderOptions {
  /** Log file. Missing parent folders are created. */
  path: string;
  /** Name of this webhook replica, stored in every record. */
  replica: string;
  /** Delay in milliseconds between the first append of an idle period and its write and fdatasync. Default 2. */
  fsyncIntervalMs?: number;
  /** Maximum number of records in one write. A full batch is written without waiting for the delay. Default 512. */
  maxBatch?: number;
}

export type RecorderErrorCode =
  | 'RECORD_LOG_OPEN_FAILED'
  | 'RECORD_LOG_LOCKED'
  | 'RECORD_LOG_CORRUPT'
  | 'RECORD_WRITE_FAILED'
  | 'RECORDER_FAILED'
  | 'RECORDER_CLOSED'
  | 'RECORD_LOG_CLOSE_FAILED';

/** Error from `DecisionRecorder`, with a stable `code`. `cause` holds the file system error, if there was one. */
export class RecorderError extends Error {
  override readonly name = 'RecorderError';
  readonly code: RecorderErrorCode;

  constructor(code: RecorderErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const DEFAULT_FSYNC_INTERVAL_MS = 0;
// Bounds one write to about 512 KiB when records are about 1 KiB each (an estimate).
const DEFAULT_MAX_BATCH = 512;
const TAIL_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

interface QueuedRecord {
  record: DecisionRecord;
  line: string;
  resolve: (record: DecisionRecord) => void;
  reject: (error: Error) => void;
}

/** The last record known to be on disk, and the file size that ends with it. */
interface DurableHead {
  seq: number;
  hash: string;
  size: number;
}

/**
 * Appends hash-chained decision records to a JSON Lines file, one record per line.
 *
 * Records get their `seq` and `prevHash` synchronously in `append`, so the chain follows
 * call order. Lines are written in batches. The first append after an idle period starts
 * a timer of `fsyncIntervalMs` (0 means the end of the current event loop turn), and every
 * record appended until it fires is written with one write and one fdatasync. Records appended while a batch is being written form the
 * next batch, which is written as soon as that one is synced. An append resolves only
 * after its line is synced.
 *
 * When a write or fdatasync fails, the recorder rejects that batch and every record queued
 * behind it, because their `prevHash` values link to the failed records. It then truncates
 * the file back to the last synced record and rewinds the chain to it, so the next record
 * links to what is on disk. If that truncation fails too, the file may end in an
 * unsynced or partial line, so the recorder rejects all later appends with
 * `RECORDER_FAILED` rather than extend a chain it cannot vouch for. Opening the file again
 * with `DecisionRecorder.open` truncates the partial line and continues the chain.
 *
 * NOTE: one recorder must own the file. Nothing locks it against a second writer, in this
 * process or another, and a second writer would break the chain.
 */
export class DecisionRecorder {
  readonly path: string;
  readonly replica: string;
  /** Size of the partial last line that `open` truncated away, in bytes. It is 0 when the file ended with a newline. */
  readonly discardedTailBytes: number;

  readonly #handle: FileHandle;
  readonly #unlock: () => Promise<void>;
  readonly #fsyncIntervalMs: number;
  readonly #maxBatch: number;

  /** Chain head including records still queued, so the next record links to it. */
  #nextSeq: number;
  #lastHash: string;
  #durable: DurableHead;

  #queue: QueuedRecord[] = [];
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #writing = false;
  #drained: Promise<void> = Promise.resolve();
  #failure: RecorderError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    options: Required<RecorderOptions>,
    handle: FileHandle,
    durable: DurableHead,
    discardedTailBytes: number,
    unlock: () => Promise<void>,
  ) {
    this.#unlock = unlock;
    this.path = options.path;
    this.replica = options.replica;
    this.#fsyncIntervalMs = options.fsyncIntervalMs;
    this.#maxBatch = options.maxBatch;
    this.#handle = handle;
    this.#durable = durable;
    this.#nextSeq = durable.seq + 1;
    this.#lastHash = durable.hash;
    this.discardedTailBytes = discardedTailBytes;
  }

  /**
   * Opens or creates the log file and continues the chain of its last line. A new or
   * empty file starts a chain at seq 1 with a `prevHash` of 64 zeros. Rejects with
   * `RECORD_LOG_LOCKED` while another recorder, in this or a running process, holds
   * the file.
   *
   * A last line without a trailing newline comes from a write that was never synced and
   * acknowledged, so it is truncated away and counted in `discardedTailBytes`.
   * Rejects with `RECORD_LOG_CORRUPT` when the last complete line is not a record, with
   * `RECORD_LOG_OPEN_FAILED` when the file cannot be opened, read or truncated, and with a
   * RangeError for invalid options.
   */
  static async open(options: RecorderOptions): Promise<DecisionRecorder> {
    const resolved = resolveOptions(options);

    let handle: FileHandle;
    let unlock: () => Promise<void>;
    try {
      await mkdir(dirname(resolved.path), { recursive: true });
      unlock = await lockRecordFile(resolved.path);
    } catch (error) {
      if (error instanceof RecordFileLockedError) {
        throw new RecorderError('RECORD_LOG_LOCKED', error.message, { cause: error });
      }
      throw new RecorderError('RECORD_LOG_OPEN_FAILED', `Opening decision record log ${resolved.path} failed.`, {
        cause: error,
      });
    }
    try {
      // 'a+' appends every write at the end of the file and still allows reading the tail.
      handle = await open(resolved.path, 'a+');
    } catch (error) {
      await unlock();
      throw new RecorderError('RECORD_LOG_OPEN_FAILED', `Opening decision record log ${resolved.path} failed.`, {
        cause: error,
      });
    }

    try {
      const { head, discardedTailBytes } = await recoverHead(handle, resolved.path);
      return new DecisionRecorder(resolved, handle, head, discardedTailBytes, unlock);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlock();
      if (error instanceof RecorderError) {
        throw error;
      }
      throw new RecorderError(
        'RECORD_LOG_OPEN_FAILED',
        `Reading or truncating the end of decision record log ${resolved.path} failed.`,
        { cause: error },
      );
    }
  }

  /**
   * Appends one record and resolves with it once its line is written and synced.
   * Rejects with `RECORD_WRITE_FAILED` when its batch or an earlier one failed, with
   * `RECORDER_FAILED` after an unrecoverable failure and with `RECORDER_CLOSED` after
   * `close`.
   */
  append(request: RequestSummary, decision: Decision, objectSha256: string | null): Promise<DecisionRecord> {
    if (this.#failure !== undefined) {
      return Promise.reject(this.#failedError());
    }
    if (this.#closing !== undefined) {
      const message = `Decision recorder for ${this.path} is closed. Open a new recorder to append.`;
      return Promise.reject(new RecorderError('RECORDER_CLOSED', message));
    }

    let built;
    try {
      built = buildRecordLine({
        request,
        decision,
        objectSha256,
        seq: this.#nextSeq,
        time: new Date(),
        replica: this.replica,
        prevHash: this.#lastHash,
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.#nextSeq += 1;
    this.#lastHash = built.record.hash;

    return new Promise<DecisionRecord>((resolve, reject) => {
      this.#queue.push({ record: built.record, line: built.line, resolve, reject });
      this.#scheduleWrite();
    });
  }

  /** Writes and syncs every queued record, then closes the file. Later appends reject. */
  close(): Promise<void> {
    this.#closing ??= this.#closeFile();
    return this.#closing;
  }

  async #closeFile(): Promise<void> {
    this.#startWriting();
    await this.#drained;
    try {
      await this.#handle.close();
    } catch (error) {
      await this.#unlock();
      throw new RecorderError('RECORD_LOG_CLOSE_FAILED', `Closing decision record log ${this.path} failed.`, {
        cause: error,
      });
    }
    await this.#unlock();
  }

  #scheduleWrite(): void {
    if (this.#writing) {
      // The running write loop takes queued records as soon as its current batch is synced.
      return;
    }
    if (this.#queue.length >= this.#maxBatch) {
      this.#startWriting();
      return;
    }
    if (this.#timer !== undefined) {
      return;
    }
    const start = (): void => {
      this.#timer = undefined;
      this.#startWriting();
    };
    // Node.js runs setTimeout(fn, 0) after at least 1 ms, so an interval of 0 uses
    // setImmediate: the batch then holds every record appended in the same turn of
    // the event loop.
    this.#timer = this.#fsyncIntervalMs === 0 ? setImmediate(start) : setTimeout(start, this.#fsyncIntervalMs);
  }

  #startWriting(): void {
    if (this.#timer !== undefined) {
      if (this.#fsyncIntervalMs === 0) {
        clearImmediate(this.#timer as NodeJS.Immediate);
      } else {
        clearTimeout(this.#timer as NodeJS.Timeout);
      }
      this.#timer = undefined;
    }
    if (this.#writing) {
      return;
    }
    this.#writing = true;
    this.#drained = this.#writeQueue();
  }

  /** Writes batches until the queue is empty. It never rejects, because failures reject the appends instead. */
  async #writeQueue(): Promise<void> {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      await this.#writeBatch(batch);
    }
    // Cleared in the same synchronous step as the empty-queue check, so an append cannot
    // queue a record that no loop will write.
    this.#writing = false;
  }

  async #writeBatch(batch: QueuedRecord[]): Promise<void> {
    const data = Buffer.from(batch.map((queued) => `${queued.line}\n`).join(''), 'utf8');
    try {
      await writeFully(this.#handle, data);
      await this.#handle.datasync();
    } catch (error) {
      await this.#rollBack(batch, error);
      return;
    }

    const last = batch[batch.length - 1]!.record;
    this.#durable = { seq: last.seq, hash: last.hash, size: this.#durable.size + data.length };
    for (const queued of batch) {
      queued.resolve(queued.record);
    }
  }

  /**
   * Rejects the failed batch and everything queued behind it, rewinds the chain to the
   * last synced record and truncates the file to match. The rewind happens before the
   * first await, so appends made from here on link to the synced record.
   */
  async #rollBack(batch: QueuedRecord[], cause: unknown): Promise<void> {
    const first = batch[0]!.record.seq;
    const last = batch[batch.length - 1]!.record.seq;
    const batchError = new RecorderError(
      'RECORD_WRITE_FAILED',
      `Writing decision records seq ${first}-${last} to ${this.path} failed, so the records were not stored.`,
      { cause },
    );
    const queuedBehind = this.#queue.splice(0);
    const queuedError = new RecorderError(
      'RECORD_WRITE_FAILED',
      `Decision record not stored because writing the earlier records seq ${first}-${last} to ${this.path} failed.`,
      { cause },
    );
    this.#nextSeq = this.#durable.seq + 1;
    this.#lastHash = this.#durable.hash;
    rejectAll(batch, batchError);
    rejectAll(queuedBehind, queuedError);

    try {
      await this.#handle.truncate(this.#durable.size);
      await this.#handle.datasync();
    } catch (truncateError) {
      this.#failure = new RecorderError(
        'RECORDER_FAILED',
        `Truncating decision record log ${this.path} to its last synced record (seq ${this.#durable.seq}, ` +
          `${this.#durable.size} bytes) failed after a failed write, so the file may end in a partial record. ` +
          'Fix the file system and open the recorder again.',
        { cause: truncateError },
      );
      rejectAll(this.#queue.splice(0), this.#failedError());
    }
  }

  #failedError(): RecorderError {
    const failure = this.#failure!;
    return new RecorderError('RECORDER_FAILED', failure.message, { cause: failure.cause });
  }
}

function resolveOptions(options: RecorderOptions): Required<RecorderOptions> {
  const fsyncIntervalMs = options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (options.path === '') {
    throw new RangeError('Decision recorder path is empty. Set it to the log file to append to.');
  }
  if (options.replica === '') {
    throw new RangeError('Decision recorder replica is empty. Set it to the name of this webhook replica.');
  }
  if (!Number.isFinite(fsyncIntervalMs) || fsyncIntervalMs < 0) {
    throw new RangeError(`fsyncIntervalMs must be a finite number >= 0, got ${fsyncIntervalMs}.`);
  }
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new RangeError(`maxBatch must be an integer >= 1, got ${maxBatch}.`);
  }
  return { path: options.path, replica: options.replica, fsyncIntervalMs, maxBatch };
}

function rejectAll(queued: QueuedRecord[], error: Error): void {
  for (const entry of queued) {
    entry.reject(error);
  }
}

async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    // The file is open in append mode, so every write goes to the end of the file.
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten <= 0) {
      throw new Error(`write returned ${bytesWritten} bytes with ${data.length - offset} bytes left`);
    }
    offset += bytesWritten;
  }
}

/**
 * Finds the last record of the file by reading backwards from its end in chunks, and
 * truncates a partial last line. Returns the chain head to continue from.
 */
async function recoverHead(
  handle: FileHandle,
  path: string,
): Promise<{ head: DurableHead; discardedTailBytes: number }> {
  const { size } = await handle.stat();
  const lastLine = await readLastCompleteLine(handle, size);
  const completeSize = lastLine === undefined ? 0 : lastLine.end + 1;
  const discardedTailBytes = size - completeSize;
  if (discardedTailBytes > 0) {
    await handle.truncate(completeSize);
    await handle.datasync();
  }
  if (lastLine === undefined) {
    return { head: { seq: 0, hash: GENESIS_HASH, size: 0 }, discardedTailBytes };
  }

  const { seq, hash } = parseChainHead(lastLine.text, path);
  return { head: { seq, hash, size: completeSize }, discardedTailBytes };
}

/**
 * Returns the last line that ends with a newline, with the offset of that newline, or
 * undefined when the file contains no newline.
 */
async function readLastCompleteLine(
  handle: FileHandle,
  size: number,
): Promise<{ text: string; end: number } | undefined> {
  let tail = Buffer.alloc(0);
  let tailStart = size;
  let end = -1;
  while (tailStart > 0) {
    const length = Math.min(TAIL_CHUNK_BYTES, tailStart);
    tailStart -= length;
    const chunk = Buffer.alloc(length);
    await readFully(handle, chunk, tailStart);
    tail = Buffer.concat([chunk, tail]);

    if (end < 0) {
      const index = tail.lastIndexOf(NEWLINE);
      if (index < 0) {
        continue;
      }
      end = tailStart + index;
    }
    // A negative offset would make lastIndexOf search from the end of the buffer.
    const searchFrom = end - tailStart - 1;
    const start = searchFrom < 0 ? -1 : tail.lastIndexOf(NEWLINE, searchFrom);
    if (start >= 0) {
      return { text: tail.toString('utf8', start + 1, end - tailStart), end };
    }
  }
  if (end < 0) {
    return undefined;
  }
  return { text: tail.toString('utf8', 0, end), end };
}

async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesRead } = await handle.read(buffer, offset, buffer.length - offset, position + offset);
    if (bytesRead === 0) {
      throw new Error(`file ended at byte ${position + offset} while reading ${buffer.length} bytes at ${position}`);
    }
    offset += bytesRead;
  }
}

function parseChainHead(text: string, path: string): { seq: number; hash: string } {
  const corrupt = (detail: string, cause?: unknown): RecorderError =>
    new RecorderError(
      'RECORD_LOG_CORRUPT',
      `The last line of decision record log ${path} ${detail}, so the chain cannot be continued. ` +
        'Check the file with verifyChain and move it aside before opening the recorder again.',
      cause === undefined ? undefined : { cause },
    );

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt('is not valid JSON', error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt('is not a JSON object');
  }
  const { seq, hash } = parsed as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw corrupt('has no valid seq');
  }
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
    throw corrupt('has no valid hash');
  }
  return { seq, hash };
}
