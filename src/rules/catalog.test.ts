import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rules } from './catalog.js';

describe('rule catalog', () => {
  const documented = readFileSync(new URL('../../docs/rules.md', import.meta.url), 'utf8');

  it('has unique ids', () => {
    expect(new Set(rules.map((rule) => rule.id)).size).toBe(rules.length);
  });

  it.each(rules.map((rule) => ({ id: rule.id, rule })))('documents $id with its controls', ({ rule }) => {
    const row = documented.split('\n').find((line) => line.startsWith(`| \`${rule.id}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(`| ${rule.controls.join(', ')} |`);
    expect(row).toContain(rule.summary);
  });
});
