import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it.each([
    { name: 'lowest jitter', random: 0, expected: [50, 100, 200, 400, 500, 500] },
    { name: 'highest jitter', random: 0.999_999, expected: [100, 200, 400, 800, 1000, 1000] },
    { name: 'middle jitter', random: 0.5, expected: [75, 150, 300, 600, 750, 750] },
  ])('$name doubles up to the cap', ({ random, expected }) => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => random });

    const delays = expected.map(() => backoff.nextDelayMs());

    expect(delays).toEqual(expected);
    expect(backoff.attempts()).toBe(expected.length);
  });

  it('reset starts over', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    backoff.nextDelayMs();
    backoff.nextDelayMs();

    backoff.reset();

    expect(backoff.attempts()).toBe(0);
    expect(backoff.nextDelayMs()).toBe(50);
  });

  it('many attempts stay at the cap', () => {
    const backoff = new Backoff({ initialMs: 1, maxMs: 30_000, random: () => 0.999_999 });
    let last = 0;
    for (let attempt = 0; attempt < 200; attempt += 1) {
      last = backoff.nextDelayMs();
    }
    expect(last).toBe(30_000);
  });

  it.each([
    { name: 'zero initial delay', initialMs: 0, maxMs: 10 },
    { name: 'cap below initial delay', initialMs: 100, maxMs: 10 },
    { name: 'not a number', initialMs: Number.NaN, maxMs: 10 },
  ])('$name rejected', ({ initialMs, maxMs }) => {
    expect(() => new Backoff({ initialMs, maxMs })).toThrow(RangeError);
  });
});
