import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { isMap } from '../engine/object.js';
import { configSchema, type GuardConfig } from './schema.js';

/**
 * Environment variables for the values that differ per deployment. Each maps to a
 * path in the configuration; numbers are coerced and checked by the schema.
 */
export const environmentVariables = {
  PHI_MESH_GUARD_DEFAULT_MODE: ['defaultMode'],
  PHI_MESH_GUARD_PORT: ['server', 'port'],
  PHI_MESH_GUARD_RECORDS_PATH: ['records', 'path'],
  PHI_MESH_GUARD_LOG_LEVEL: ['logLevel'],
  PHI_MESH_GUARD_ROOT_NAMESPACE: ['rootNamespace'],
  PHI_MESH_GUARD_NAMESPACE: ['guardNamespace'],
} as const satisfies Record<string, readonly string[]>;

const numericPaths: ReadonlySet<string> = new Set(['server.port']);

export interface LoadOptions {
  /** Path of a YAML or JSON file; none means defaults plus environment. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, which win over the file and the environment. */
  overrides?: Record<string, unknown>;
}

/**
 * Reads, merges and validates the configuration once at start-up, and freezes it.
 * Every problem is listed in one ConfigError, so a user fixes them in one pass.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<GuardConfig> {
  let raw: Record<string, unknown> = {};
  const sources: string[] = [];
  if (options.file !== undefined) {
    raw = await readConfigFile(options.file);
    sources.push(options.file);
  }
  for (const [variable, path] of Object.entries(environmentVariables)) {
    const value = (options.env ?? process.env)[variable];
    if (value !== undefined && value !== '') {
      const dotted = path.join('.');
      setPath(raw, path, numericPaths.has(dotted) ? coerceNumber(value) : value);
      sources.push(`environment variable ${variable}`);
    }
  }
  const flags = Object.entries(options.overrides ?? {}).filter(([, value]) => value !== undefined);
  for (const [dotted, value] of flags) {
    setPath(raw, dotted.split('.'), value);
  }
  if (flags.length > 0) {
    sources.push('command-line flags');
  }
  return parseConfig(raw, sources.length === 0 ? 'defaults' : sources.join(', '));
}

export function parseConfig(raw: unknown, source: string): GuardConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`invalid configuration from ${source}:\n${formatIssues(result.error.issues)}`);
  }
  return deepFreeze(result.data);
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`configuration file ${file} is not valid YAML or JSON: ${(error as Error).message}`, { cause: error });
  }
  if (parsed === null || parsed === undefined) {
    return {};
  }
  if (!isMap(parsed)) {
    throw new ConfigError(`configuration file ${file} must hold a mapping at the top level`);
  }
  return parsed;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
      return `  - ${path}: ${issue.message}`;
    })
    .join('\n');
}

function coerceNumber(value: string): number | string {
  const number = Number(value);
  return value.trim() !== '' && Number.isFinite(number) ? number : value;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isMap(node[key])) {
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}
