import { describe, expect, it } from 'vitest';
import { addMapEntries, escapePointerToken } from './patch.js';

describe('escapePointerToken', () => {
  it.each([
    { name: 'plain key', token: 'app', escaped: 'app' },
    { name: 'slash', token: 'sidecar.istio.io/inject', escaped: 'sidecar.istio.io~1inject' },
    { name: 'tilde', token: 'a~b', escaped: 'a~0b' },
    { name: 'tilde before slash', token: '~/', escaped: '~0~1' },
    { name: 'escape lookalike', token: 'x~1y', escaped: 'x~01y' },
  ])('$name', ({ token, escaped }) => {
    expect(escapePointerToken(token)).toBe(escaped);
  });
});

describe('addMapEntries', () => {
  it('creates a missing map whole', () => {
    expect(addMapEntries(undefined, '/metadata/labels', { 'example.org/tier': 'phi' })).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'example.org/tier': 'phi' } },
    ]);
  });

  it('adds only missing or different entries', () => {
    const current = { app: 'records-api', 'example.org/tier': 'public' };
    expect(addMapEntries(current, '/metadata/labels', { app: 'records-api', 'example.org/tier': 'phi' })).toEqual([
      { op: 'add', path: '/metadata/labels/example.org~1tier', value: 'phi' },
    ]);
  });

  it('returns nothing when every entry is present', () => {
    expect(addMapEntries({ app: 'records-api' }, '/metadata/labels', { app: 'records-api' })).toEqual([]);
  });
});
