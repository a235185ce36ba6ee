import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/log.js';

export interface CapturedLog {
  logger: Logger;
  /** Parsed log records, oldest first. */
  lines: Record<string, unknown>[];
}

/** Creates a real pino logger at debug level that keeps its records in memory. */
export function captureLog(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      callback();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}
