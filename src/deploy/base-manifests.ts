import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, parse as parseYaml, parseAllDocuments } from 'yaml';
import { isMap } from '../engine/object.js';
import { InputError } from '../errors.js';

/**
 * The package's manifests/ folder. This module sits one folder below the package
 * root's src/ or dist/, so the same relative URL works before and after the build.
 */
export const manifestsFolder = fileURLToPath(new URL('../../manifests/', import.meta.url));

/** One YAML document of the base, with the file it came from for error messages. */
export interface BaseDocument {
  file: string;
  document: Document;
}

/**
 * Reads the kustomize base in `folder`/base: the files its kustomization.yaml
 * lists under `resources`, in that order, each parsed into YAML documents that
 * keep their comments. Raises InputError for a missing file or a YAML error.
 */
export async function readBaseManifests(folder: string = manifestsFolder): Promise<BaseDocument[]> {
  const baseFolder = join(folder, 'base');
  const kustomizationFile = join(baseFolder, 'kustomization.yaml');
  const kustomization = parseYaml(await readText(kustomizationFile)) as unknown;
  const resources = isMap(kustomization) ? kustomization.resources : undefined;
  if (!Array.isArray(resources) || !resources.every((entry) => typeof entry === 'string')) {
    throw new InputError(`${kustomizationFile} must list the base files under "resources"`);
  }

  const documents: BaseDocument[] = [];
  for (const resource of resources as string[]) {
    const file = join(baseFolder, resource);
    for (const document of parseAllDocuments(await readText(file))) {
      const [error] = document.errors;
      if (error !== undefined) {
        throw new InputError(`${file} is not valid YAML: ${error.message}`, { cause: error });
      }
      if (document.contents !== null) {
        documents.push({ file, document });
      }
    }
  }
  return documents;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the deployment manifest ${file}: ${(error as Error).message}`, { cause: error });
  }
}
