/**
 * The guard's error catalog. Every error has a stable code; docs/errors.md
 * documents each one, and a test keeps the two in step.
 */

export const errorCodes = {
  INVALID_REVIEW: 'The HTTP body is not an AdmissionReview the guard can read.',
  EVALUATION_FAILED: 'The review is well formed, but its object cannot be evaluated.',
  RECORD_WRITE_FAILED: 'A decision record could not be written, so no decision was returned.',
  CONFIG_INVALID: 'The configuration file or environment has invalid values.',
  INPUT_UNUSABLE: 'A manifest given to the command line cannot be read or parsed.',
  CERTIFICATE_FAILED: 'The serving certificate could not be loaded or created.',
  LISTEN_FAILED: 'The HTTPS server could not listen on the configured address and port.',
  NOT_FOUND: 'An HTTP request named a path the server does not serve.',
  INTERNAL: 'A bug in the guard; its log holds the details.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class GuardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Raised when an AdmissionReview envelope is malformed. The server responds with HTTP 400. */
export class InvalidReviewError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_REVIEW', message, options);
  }
}

/** Raised by rules and readers when the object has a field of the wrong shape. */
export class EvaluationError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EVALUATION_FAILED', message, options);
  }
}

/** Raised when the decision log cannot be appended. The server responds with HTTP 500. */
export class RecordWriteError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RECORD_WRITE_FAILED', message, options);
  }
}

/** Raised at start-up with every configuration problem listed in the message. */
export class ConfigError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/** Raised by the manifest reader for a file or document that cannot be used. */
export class InputError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT_UNUSABLE', message, options);
  }
}

export class CertificateError extends GuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CERTIFICATE_FAILED', message, options);
  }
}
