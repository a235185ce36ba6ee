import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBaseManifests } from '../../src/deploy/base-manifests.js';

export const repository = fileURLToPath(new URL('../../', import.meta.url));
export const manifestsFolder = join(repository, 'manifests');

/** A Kubernetes object from the manifests, loosely typed for assertions. */
export type Manifest = Record<string, any>;

/** The base objects as plain data, in the order the kustomization lists them. */
export async function loadBaseObjects(): Promise<Manifest[]> {
  return (await readBaseManifests()).map(({ document }) => document.toJS() as Manifest);
}

/** The one object of `kind` (and `name`, when given); fails the test when there is not exactly one. */
export function single(objects: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata?.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name === undefined ? '' : ` named ${name}`}, found ${found.length}`);
  }
  return found[0]!;
}

/**
 * The kubectl binary to render kustomizations with: $KUBECTL, else kubectl on the
 * PATH, or undefined when neither runs.
 */
export const kubectl: string | undefined = (() => {
  for (const candidate of [process.env.KUBECTL, 'kubectl']) {
    if (candidate === undefined || candidate === '') {
      continue;
    }
    try {
      execFileSync(candidate, ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
      return candidate;
    } catch {
      // Not installed or not runnable: try the next candidate.
    }
  }
  return undefined;
})();

/** Runs `kubectl kustomize DIR` and returns the YAML it prints. */
export function kustomize(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(kubectl!, ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`kubectl kustomize ${dir} failed: ${stderr}`, { cause: error }));
        return;
      }
      resolve(stdout);
    });
  });
}

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the real command line, `phi-mesh-guard ARGS`, through tsx. */
export function runCli(args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(repository, 'src/cli/main.ts'), ...args],
      { cwd: repository, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ status, stdout, stderr });
      },
    );
  });
}
