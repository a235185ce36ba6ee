/**
 * Defensive readers for Kubernetes objects that arrive as untyped JSON. A field of
 * the wrong type raises an EvaluationError naming its path, so the guard returns
 * a clear message instead of crashing or guessing.
 */
import { EvaluationError } from '../errors.js';

export type JsonMap = Record<string, unknown>;

export function isMap(value: unknown): value is JsonMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the map at `path`, or `undefined` when it is absent or null. */
export function optionalMap(value: unknown, path: string): JsonMap | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!isMap(value)) {
    throw new EvaluationError(`${path} must be an object, found ${describeType(value)}`);
  }
  return value;
}

/** Returns the map at `path`, and raises EvaluationError when it is absent or null. */
export function requiredMap(value: unknown, path: string): JsonMap {
  const map = optionalMap(value, path);
  if (map === undefined) {
    throw new EvaluationError(`${path} must be an object, found null`);
  }
  return map;
}

/** Returns the list at `path`, or `[]` when it is absent or null. */
export function optionalList(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new EvaluationError(`${path} must be a list, found ${describeType(value)}`);
  }
  return value;
}

/** Returns the string at `path`, or `undefined` when it is absent or null. */
export function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new EvaluationError(`${path} must be a string, found ${describeType(value)}`);
  }
  return value;
}

/** Returns a string-to-string map such as labels or annotations, or `{}` when it is absent. */
export function stringMap(value: unknown, path: string): Record<string, string> {
  const map = optionalMap(value, path);
  if (map === undefined) {
    return {};
  }
  for (const key of Object.keys(map)) {
    if (typeof map[key] !== 'string') {
      throw new EvaluationError(`${path}["${key}"] must be a string, found ${describeType(map[key])}`);
    }
  }
  return map as Record<string, string>;
}

export function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
