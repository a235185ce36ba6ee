import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { CertificateError } from '../errors.js';
import { inspectPair } from './serving-certificate.js';

/** The part of `https.Server` and `tls.Server` that the reloader uses. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

export interface CertificateReloaderOptions {
  /** The files and PEM text the server is started with. */
  certificate: { certFile: string; keyFile: string; cert: string; key: string };
  /**
   * Options repeated in every new secure context, such as `minVersion`, because
   * `setSecureContext` replaces the whole context, not only the certificate.
   */
  contextOptions?: Omit<SecureContextOptions, 'cert' | 'key'>;
  logger: Logger;
  /** Interval for re-reading both files, the fallback when a file watch misses a change; 0 turns polling off. Default 10000. */
  pollIntervalMs?: number;
  /** Watch the files' folders for changes. Default true. */
  watchFiles?: boolean;
  /** A certificate that expires within this many days is logged at warn. Default 30. */
  expiryWarningDays?: number;
  /** Interval for the expiry check. Default one day. */
  expiryCheckIntervalMs?: number;
}

export type ReloadOutcome = 'unchanged' | 'reloaded' | 'rejected';

interface AppliedPair {
  notAfter: Date;
  fingerprint256: string;
  contentSha256: string;
}

const dayMs = 24 * 60 * 60 * 1000;

/** Delay between a file event and the re-read, so the several events of one update cause one read. */
const watchSettleMs = 100;

/**
 * Keeps a TLS server's certificate in step with its files. The kubelet updates a
 * Secret volume by writing a new timestamped folder and renaming the `..data`
 * symlink to it, so the reloader watches the folders that contain the files.
 * It also re-reads them on a timer, because file events are lost on some volume
 * types. When the content changes and the key matches the certificate, it calls
 * `setSecureContext`: new connections get the new certificate while open ones
 * keep the old one. A pair that cannot be used (half written, mismatched or
 * unreadable) is logged at warn and the current certificate stays in use until a
 * later check finds a good pair.
 */
export class CertificateReloader {
  readonly #options: CertificateReloaderOptions;
  readonly #certFile: string;
  readonly #keyFile: string;
  readonly #logger: Logger;
  #server: SecureContextTarget | undefined;
  #applied: AppliedPair;
  #lastProblem: string | undefined;
  #watchers: FSWatcher[] = [];
  #timers: NodeJS.Timeout[] = [];
  #settleTimer: NodeJS.Timeout | undefined;
  #running: Promise<ReloadOutcome> | undefined;
  #checkAgain = false;
  #stopped = false;

  /** Raises CertificateError when the starting pair itself cannot be used. */
  constructor(options: CertificateReloaderOptions) {
    this.#options = options;
    this.#certFile = options.certificate.certFile;
    this.#keyFile = options.certificate.keyFile;
    this.#logger = options.logger;
    const { cert, key } = options.certificate;
    this.#applied = { ...inspectPair({ certFile: this.#certFile, keyFile: this.#keyFile, cert, key }), contentSha256: contentSha256(cert, key) };
  }

  /** notAfter of the certificate that new connections get. */
  get notAfter(): Date {
    return this.#applied.notAfter;
  }

  /** SHA-256 fingerprint of the certificate that new connections get, in the format of `getPeerCertificate().fingerprint256`. */
  get fingerprint256(): string {
    return this.#applied.fingerprint256;
  }

  /**
   * Starts watching and polling for `server`, which must have been created with the
   * starting certificate. Checks the expiry at once and again on each interval.
   */
  start(server: SecureContextTarget): void {
    if (this.#server !== undefined) {
      throw new Error('the certificate reloader is already started');
    }
    this.#server = server;
    if (this.#options.watchFiles ?? true) {
      for (const folder of new Set([dirname(this.#certFile), dirname(this.#keyFile)])) {
        this.#watchFolder(folder);
      }
    }
    const pollIntervalMs = this.#options.pollIntervalMs ?? 10_000;
    if (pollIntervalMs > 0) {
      this.#timers.push(setInterval(() => this.#checkInBackground(), pollIntervalMs).unref());
    }
    this.#timers.push(setInterval(() => this.#checkExpiry(), this.#options.expiryCheckIntervalMs ?? dayMs).unref());
    this.#checkExpiry();
  }

  /** Stops watching and polling for good. A check already running still finishes. */
  stop(): void {
    this.#stopped = true;
    for (const watcher of this.#watchers) {
      watcher.close();
    }
    this.#watchers = [];
    for (const timer of this.#timers) {
      clearInterval(timer);
    }
    this.#timers = [];
    clearTimeout(this.#settleTimer);
  }

  /**
   * Re-reads both files and applies them when they changed and belong together.
   * Problems are logged, not raised. Checks requested while one runs are merged
   * into one more check after it. Before start() there is no server to apply a
   * pair to, so nothing is read.
   */
  async check(): Promise<ReloadOutcome> {
    if (this.#running !== undefined) {
      this.#checkAgain = true;
      return this.#running;
    }
    this.#running = this.#checkUntilSettled();
    try {
      return await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  async #checkUntilSettled(): Promise<ReloadOutcome> {
    let outcome: ReloadOutcome;
    do {
      this.#checkAgain = false;
      outcome = await this.#checkOnce();
    } while (this.#checkAgain && !this.#stopped);
    return outcome;
  }

  async #checkOnce(): Promise<ReloadOutcome> {
    const server = this.#server;
    if (server === undefined) {
      return 'unchanged';
    }
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(this.#certFile, 'utf8'), readFile(this.#keyFile, 'utf8')]);
    } catch (error) {
      this.#reject(new CertificateError(`cannot read certificate ${this.#certFile} or key ${this.#keyFile}: ${(error as Error).message}`, { cause: error }));
      return 'rejected';
    }

    const contentHash = contentSha256(cert, key);
    if (contentHash === this.#applied.contentSha256) {
      this.#lastProblem = undefined;
      return 'unchanged';
    }

    let details;
    try {
      details = inspectPair({ certFile: this.#certFile, keyFile: this.#keyFile, cert, key });
      server.setSecureContext({ ...this.#options.contextOptions, cert, key });
    } catch (error) {
      this.#reject(error as Error);
      return 'rejected';
    }

    this.#applied = { ...details, contentSha256: contentHash };
    this.#lastProblem = undefined;
    this.#logger.info(
      { certFile: this.#certFile, notAfter: details.notAfter.toISOString(), fingerprint256: details.fingerprint256 },
      'serving certificate reloaded',
    );
    this.#checkExpiry();
    return 'reloaded';
  }

  /** Logs an unusable pair at warn once, and repeats of the same problem at debug, so polling does not flood the log. */
  #reject(error: Error): void {
    const level = error.message === this.#lastProblem ? 'debug' : 'warn';
    this.#lastProblem = error.message;
    this.#logger[level](
      { certFile: this.#certFile, keyFile: this.#keyFile, err: error, notAfter: this.#applied.notAfter.toISOString() },
      'serving certificate not reloaded; keeping the current one',
    );
  }

  #checkExpiry(): void {
    const remainingMs = this.#applied.notAfter.getTime() - Date.now();
    const fields = { certFile: this.#certFile, notAfter: this.#applied.notAfter.toISOString(), daysLeft: Math.floor(remainingMs / dayMs) };
    if (remainingMs <= 0) {
      this.#logger.error(fields, 'serving certificate has expired');
    } else if (remainingMs <= (this.#options.expiryWarningDays ?? 30) * dayMs) {
      this.#logger.warn(fields, 'serving certificate expires soon');
    }
  }

  #watchFolder(folder: string): void {
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, { persistent: false }, () => this.#scheduleCheck());
    } catch (error) {
      this.#logger.warn({ folder, err: error }, 'cannot watch certificate folder; relying on polling');
      return;
    }
    watcher.on('error', (error) => {
      this.#logger.warn({ folder, err: error }, 'certificate folder watch failed; relying on polling');
      watcher.close();
    });
    this.#watchers.push(watcher);
  }

  #checkInBackground(): void {
    this.check().catch((error: unknown) => {
      this.#logger.error({ certFile: this.#certFile, err: error }, 'serving certificate check failed');
    });
  }

  #scheduleCheck(): void {
    if (this.#settleTimer !== undefined || this.#stopped) {
      return;
    }
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      this.#checkInBackground();
    }, watchSettleMs);
    this.#settleTimer.unref();
  }
}

function contentSha256(cert: string, key: string): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
}
