import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths that must never reach a log line, whatever a caller passes by mistake:
 * object bodies, patches' values and credentials.
 */
const redactPaths = [
  'object',
  'oldObject',
  '*.object',
  '*.oldObject',
  'request.object',
  'request.oldObject',
  'headers.authorization',
  '*.headers.authorization',
  'key',
  '*.key',
];

/**
 * Creates the guard's logger. Without a destination it writes to standard output
 * asynchronously: a decision is logged for every review, and synchronous writes to
 * stdout cost a system call each on the request path. pino flushes the buffer when
 * the process exits. The decision log's durable copy is the record file, which is
 * synced before every response, not this stream.
 */
export function createLogger(level: string, destination: DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  return pino(
    {
      name: 'phi-mesh-guard',
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination,
  );
}
