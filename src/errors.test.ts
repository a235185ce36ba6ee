import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCodes } from './errors.js';

describe('error catalog', () => {
  const documented = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.keys(errorCodes))('documents %s', (code) => {
    expect(documented).toContain(`| \`${code}\` |`);
  });

  it('documents no code the catalog lacks', () => {
    const rows = [...documented.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(rows.sort()).toEqual(Object.keys(errorCodes).sort());
  });
});
