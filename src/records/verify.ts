import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { sha256Hex } from './record.js';

/** Why a line breaks the chain. */
export type ChainBreakReason =
  /** The line does not parse as JSON, for example a truncated or blank line. */
  | 'invalid-json'
  /** The line is JSON but lacks a numeric `seq` or a 64-digit hex `prevHash` or `hash`. */
  | 'invalid-record'
  /** The stored hash does not match the line's contents, so the line was altered. */
  | 'hash-mismatch'
  /** `prevHash` is not the hash of the line before, so a line was removed, inserted or reordered. */
  | 'prev-hash-mismatch'
  /** `seq` is not the previous `seq` plus one. */
  | 'seq-mismatch';

export type VerifyResult =
  | {
      ok: true;
      records: number;
      files: number;
      /** Hash of the last record, or null when the files contain no records. */
      lastHash: string | null;
    }
  | {
      ok: false;
      file: string;
      /** 1-based line number within `file`. */
      line: number;
      reason: ChainBreakReason;
      message: string;
    };

type LineCheck =
  | { ok: true; seq: number; hash: string }
  | { ok: false; reason: ChainBreakReason; message: string };

const HEX_SHA256 = /^[0-9a-f]{64}$/;
// The writer puts `hash` last, so the hashed text is the line with this member removed.
const HASH_MEMBER = /,"hash":"([0-9a-f]{64})"\}$/;

/**
 * Verifies that the decision record files, read in the given order, form one hash chain,
 * and returns the first line that breaks it.
 *
 * The first record of the first file may link to any `prevHash` and start at any `seq`,
 * because older files may have been rotated away. Every later record, including the first
 * record of each later file, must link to the hash of the record before it and have the
 * next `seq`. Each hash is recomputed from the line's exact bytes, so any edit, even to
 * whitespace, counts as an alteration.
 *
 * NOTE: removing whole lines from the end of the last file leaves a valid chain. Compare
 * `lastHash` with a hash kept elsewhere to detect that.
 *
 * Files are streamed line by line. Rejects when a file cannot be read.
 */
export async function verifyChain(paths: string[]): Promise<VerifyResult> {
  let previous: { seq: number; hash: string } | undefined;
  let records = 0;

  for (const file of paths) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let lineNumber = 0;
    for await (const text of lines) {
      lineNumber += 1;
      const check = checkLine(text, previous);
      if (!check.ok) {
        lines.close();
        return { ok: false, file, line: lineNumber, reason: check.reason, message: check.message };
      }
      previous = { seq: check.seq, hash: check.hash };
      records += 1;
    }
  }

  return { ok: true, records, files: paths.length, lastHash: previous?.hash ?? null };
}

function checkLine(text: string, previous: { seq: number; hash: string } | undefined): LineCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: 'invalid-json', message: `Line is not valid JSON (${detail}).` };
  }

  const { seq, prevHash, hash } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    seq?: unknown;
    prevHash?: unknown;
    hash?: unknown;
  };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    return { ok: false, reason: 'invalid-record', message: 'Line has no seq that is a non-negative integer.' };
  }
  if (typeof prevHash !== 'string' || !HEX_SHA256.test(prevHash)) {
    return { ok: false, reason: 'invalid-record', message: 'Line has no prevHash of 64 lowercase hex digits.' };
  }
  if (typeof hash !== 'string' || !HEX_SHA256.test(hash)) {
    return { ok: false, reason: 'invalid-record', message: 'Line has no hash of 64 lowercase hex digits.' };
  }

  const hashMember = HASH_MEMBER.exec(text);
  if (hashMember === null || hashMember[1] !== hash) {
    return {
      ok: false,
      reason: 'hash-mismatch',
      message: 'Line does not end with its "hash" member, so it was rewritten.',
    };
  }
  const computed = sha256Hex(`${text.slice(0, hashMember.index)}}`);
  if (computed !== hash) {
    return {
      ok: false,
      reason: 'hash-mismatch',
      message: `Record seq ${seq} stores hash ${hash} but its contents hash to ${computed}.`,
    };
  }

  if (previous !== undefined && prevHash !== previous.hash) {
    return {
      ok: false,
      reason: 'prev-hash-mismatch',
      message:
        `Record seq ${seq} has prevHash ${prevHash} ` +
        `but the record before it (seq ${previous.seq}) has hash ${previous.hash}.`,
    };
  }
  if (previous !== undefined && seq !== previous.seq + 1) {
    return {
      ok: false,
      reason: 'seq-mismatch',
      message: `Record has seq ${seq} but the record before it has seq ${previous.seq}; expected ${previous.seq + 1}.`,
    };
  }

  return { ok: true, seq, hash };
}
