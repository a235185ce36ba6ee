import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { breakGlassGroup } from './control-plane.js';
import { httpsRequest } from './https.js';
import { isRunning, startProcess, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const guardEntryPoint = join(repositoryRoot, 'dist', 'cli', 'main.js');

/** Compiles src/ into dist/ with `npm run build`; raises with the compiler's output when it fails. */
export function buildGuard(logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'build'], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => {
      void writeFile(logFile, output);
      if (status === 0) {
        resolve();
      } else {
        reject(new Error(`npm run build failed with exit status ${status}:\n${output.trim()}`));
      }
    });
  });
}

export interface GuardFiles {
  workDir: string;
  kubeconfig: string;
  port: number;
}

/**
 * The guard started from the working tree (`node dist/cli/main.js serve`) with a
 * configuration for this run. Stopping and starting again keeps the port, the
 * certificate folder and the record file, as a restarted pod keeps its Service,
 * its mounted certificate and its volume.
 */
export class GuardProcess {
  readonly port: number;
  readonly url: string;
  readonly certDir: string;
  readonly caFile: string;
  readonly recordsFile: string;
  readonly configFile: string;
  readonly logFile: string;
  private readonly kubeconfig: string;
  private process: ManagedProcess | undefined;
  private starts = 0;

  constructor(files: GuardFiles) {
    this.port = files.port;
    this.url = `https://127.0.0.1:${files.port}`;
    this.certDir = join(files.workDir, 'guard-certs');
    this.caFile = join(this.certDir, 'ca.crt');
    this.recordsFile = join(files.workDir, 'records', 'decisions.jsonl');
    this.configFile = join(files.workDir, 'guard-config.yaml');
    this.logFile = join(files.workDir, 'guard.log');
    this.kubeconfig = files.kubeconfig;
  }

  running(): boolean {
    return this.process !== undefined && isRunning(this.process);
  }

  /** Starts the guard and waits until its /readyz returns 200, which needs the cluster view synced. */
  async start(): Promise<void> {
    if (this.running()) {
      return;
    }
    this.starts += 1;
    if (this.starts === 1) {
      await writeFile(
        this.configFile,
        stringify({
          defaultMode: 'enforce',
          breakGlass: { groups: [breakGlassGroup] },
          server: { host: '127.0.0.1' },
          logLevel: 'info',
        }),
      );
    }
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('PHI_MESH_GUARD_') && key !== 'KUBECONFIG' && key !== 'KUBERNETES_SERVICE_HOST') {
        env[key] = value;
      }
    }
    env.POD_NAME = `e2e-guard-${this.starts}`;
    const args = [
      guardEntryPoint,
      'serve',
      `--config=${this.configFile}`,
      `--kubeconfig=${this.kubeconfig}`,
      `--port=${this.port}`,
      `--cert-dir=${this.certDir}`,
      `--records=${this.recordsFile}`,
    ];
    const started = startProcess('phi-mesh-guard', process.execPath, args, { logFile: this.logFile, env, cwd: repositoryRoot });
    this.process = started;
    await waitUntil(
      'phi-mesh-guard /readyz',
      async () => {
        if (!existsSync(this.caFile)) {
          return undefined;
        }
        const response = await httpsRequest({ url: `${this.url}/readyz`, ca: await readFile(this.caFile, 'utf8'), timeoutMs: 2_000 });
        if (response.status !== 200) {
          throw new Error(`/readyz answered HTTP ${response.status}: ${response.body.slice(0, 300)}`);
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, watched: started },
    );
  }

  /** Stops the guard with SIGTERM (SIGKILL after 5 s) and returns its exit code. */
  async stop(): Promise<number | null> {
    const current = this.process;
    if (current === undefined) {
      return null;
    }
    await stopProcess(current);
    return (await current.exited).code;
  }
}
