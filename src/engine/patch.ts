import type { PatchOperation } from '../admission/types.js';

/** Escapes one JSON Pointer reference token (RFC 6901): `~` becomes `~0`, `/` becomes `~1`. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Operations that give a map at `mapPath` (a JSON Pointer such as `/metadata/labels`)
 * the `wanted` entries. A missing map is created whole; an existing map is never
 * replaced, only extended key by key. Entries already present with the wanted
 * value produce no operation, so applying the result twice changes nothing.
 */
export function addMapEntries(
  current: Readonly<Record<string, string>> | undefined,
  mapPath: string,
  wanted: Readonly<Record<string, string>>,
): PatchOperation[] {
  const missing = Object.entries(wanted).filter(([key, value]) => current?.[key] !== value);
  if (missing.length === 0) {
    return [];
  }
  if (current === undefined) {
    return [{ op: 'add', path: mapPath, value: Object.fromEntries(missing) }];
  }
  return missing.map(([key, value]) => ({ op: 'add', path: `${mapPath}/${escapePointerToken(key)}`, value }));
}
