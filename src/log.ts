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

export function createLogger(level: string, destination?: DestinationStream): Logger {
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
