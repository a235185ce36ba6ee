import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Binaries {
  kubeVersion: string;
  etcdVersion: string;
  kubeApiserver: string;
  kubectl: string;
  etcd: string;
}

const buildScript = fileURLToPath(new URL('../binaries/build.sh', import.meta.url));

/**
 * Finds the cached kube-apiserver, kubectl and etcd through `build.sh
 * --cached-only`, which never builds. Raises with the command to run when they
 * are not cached, because the first build takes about seven minutes.
 */
export function findBinaries(): Binaries {
  const result = spawnSync('bash', [buildScript, '--cached-only'], { encoding: 'utf8' });
  if (result.error !== undefined) {
    throw new Error(`cannot run ${buildScript}: ${result.error.message}`);
  }
  if (result.status === 3) {
    throw new Error(
      `kube-apiserver, kubectl and etcd are not built yet. Run "bash test/e2e/binaries/build.sh" once ` +
        `(it needs Go and takes about 7 minutes the first time), then run the suite again.\n${result.stderr.trim()}`,
    );
  }
  if (result.status !== 0) {
    throw new Error(`${buildScript} --cached-only failed with exit status ${result.status}:\n${result.stderr.trim()}`);
  }

  const values = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (match !== null) {
      values.set(match[1]!, match[2]!);
    }
  }
  const value = (key: string): string => {
    const found = values.get(key);
    if (found === undefined || found === '') {
      throw new Error(`${buildScript} --cached-only printed no ${key}= line; its output was:\n${result.stdout}`);
    }
    return found;
  };
  return {
    kubeVersion: value('KUBE_VERSION'),
    etcdVersion: value('ETCD_VERSION'),
    kubeApiserver: value('KUBE_APISERVER'),
    kubectl: value('KUBECTL'),
    etcd: value('ETCD'),
  };
}
