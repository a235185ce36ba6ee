export interface BackoffOptions {
  /** Base delay of the first retry. */
  initialMs: number;
  /** Cap on the base delay; the delay doubles per attempt until it reaches this. */
  maxMs: number;
  /** A number in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * 2^n), so replicas that lost the API server together do not
 * reconnect in step, and no retry comes sooner than half the base delay.
 */
export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got initialMs ${options.initialMs} and maxMs ${options.maxMs}`);
    }
    this.random = options.random ?? Math.random;
  }

  /** Returns the delay before the next retry and counts the attempt. */
  nextDelayMs(): number {
    const base = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** Returns the number of delays handed out since the last reset. */
  attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
