import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { CORE_SCHEMA, loadAll, YAMLException } from 'js-yaml';
import type { KubeObject } from '../admission/types.js';
import { isMap } from '../engine/object.js';
import { InputError } from '../errors.js';

export interface ManifestDocument {
  /** `PATH#INDEX` (0-based document index), with `.items[N]` for members of a List. */
  source: string;
  object: KubeObject;
}

const manifestExtensions: ReadonlySet<string> = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads Kubernetes objects from files, folders (recursively, `.yaml`, `.yml` and
 * `.json` files in name order) and `-` for standard input. Each file may hold
 * several YAML documents or one JSON document; `List` kinds are expanded.
 * Raises InputError naming the file and document for anything unusable.
 */
export async function readManifests(paths: readonly string[], readStdin: () => Promise<string> = readStandardInput): Promise<ManifestDocument[]> {
  const documents: ManifestDocument[] = [];
  for (const path of paths) {
    if (path === '-') {
      documents.push(...parseManifestText(await readStdin(), '-'));
      continue;
    }
    for (const file of await expandPath(path)) {
      let text: string;
      try {
        // Synchronous reads: one await per file made reading 10,000 small
        // manifests about ten times slower, and nothing else runs meanwhile.
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new InputError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
      }
      documents.push(...parseManifestText(text, file));
    }
  }
  return documents;
}

/**
 * Parses one file's text; `name` appears in sources and messages. js-yaml reads
 * YAML 1.2, so JSON documents parse too. It parses large manifest folders several
 * times faster than the `yaml` package, which the config and deploy code keep for
 * its comment-preserving document model.
 *
 * The core schema keeps unquoted timestamps, such as a `restartedAt` annotation,
 * as strings, as the API server stores them. js-yaml's default schema would make
 * them Date objects.
 *
 * NOTE: kubectl reads YAML 1.1, where unquoted `yes`, `no`, `on` and `off` are
 * booleans; here they stay strings.
 */
export function parseManifestText(text: string, name: string): ManifestDocument[] {
  let values: unknown[];
  try {
    values = loadAll(text, undefined, { filename: name, schema: CORE_SCHEMA });
  } catch (error) {
    if (!(error instanceof YAMLException)) {
      throw error;
    }
    throw new InputError(`${name}#${documentIndexAt(text, error.mark?.position ?? 0)}: invalid YAML or JSON: ${describeYamlError(error)}`, { cause: error });
  }

  const documents: ManifestDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) {
      return;
    }
    documents.push(...expandList(value, `${name}#${index}`));
  });
  return documents;
}

/** Counts `---` separators to find the 0-based index of the document that contains `position`. */
function documentIndexAt(text: string, position: number): number {
  const before = text.slice(0, position);
  const separators = before.match(/^---(?:[ \t].*)?$/gm)?.length ?? 0;
  return text.startsWith('---') ? Math.max(separators - 1, 0) : separators;
}

function describeYamlError(error: YAMLException): string {
  const line = error.mark === undefined ? '' : ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`;
  return `${error.reason}${line}`;
}

function expandList(value: unknown, source: string): ManifestDocument[] {
  const object = requireObject(value, source);
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.map((item, index) => {
      const itemSource = `${source}.items[${index}]`;
      return { source: itemSource, object: requireObject(item, itemSource) };
    });
  }
  return [{ source, object }];
}

function requireObject(value: unknown, source: string): KubeObject {
  if (!isMap(value)) {
    throw new InputError(`${source}: a document must be a Kubernetes object (a mapping), found ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '' || typeof value.kind !== 'string' || value.kind === '') {
    throw new InputError(`${source}: object has no apiVersion or kind`);
  }
  if (value.metadata !== undefined && !isMap(value.metadata)) {
    throw new InputError(`${source}: metadata must be a mapping`);
  }
  return value as KubeObject;
}

async function expandPath(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (error as Error).message}`, { cause: error });
  }
  if (!info.isDirectory()) {
    return [path];
  }
  const files: string[] = [];
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      files.push(...(await expandPath(child)));
    } else if (manifestExtensions.has(extname(entry.name).toLowerCase())) {
      files.push(child);
    }
  }
  return files;
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
