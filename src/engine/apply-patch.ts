import type { KubeObject, PatchOperation } from '../admission/types.js';
import { isMap } from './object.js';

/**
 * Applies the guard's own `add` operations to a copy of `object`, as the API
 * server would. Used by the offline check to create namespaces through the
 * guard's mutation; it supports only what the guard emits (add into maps).
 */
export function applyPatch(object: KubeObject, patch: readonly PatchOperation[]): KubeObject {
  const copy = structuredClone(object);
  for (const operation of patch) {
    const tokens = operation.path.split('/').slice(1).map(unescapePointerToken);
    const last = tokens.pop();
    if (last === undefined) {
      throw new Error(`cannot apply a patch to the whole object (path "${operation.path}")`);
    }
    let node: Record<string, unknown> = copy;
    for (const token of tokens) {
      const child = node[token];
      if (!isMap(child)) {
        throw new Error(`patch path ${operation.path} crosses ${token}, which is not an object`);
      }
      node = child;
    }
    node[last] = structuredClone(operation.value);
  }
  return copy;
}

function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}
