import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../errors.js';

export interface KubeConfigSearch {
  /** The `--kubeconfig` file; when set, it is the only source and it must exist. */
  file?: string;
  /** Prepended to the service account folder, as in `KubeConfig.loadFromCluster`; tests use a temporary folder. */
  serviceAccountPathPrefix?: string;
}

const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads a kubeconfig from the first source that exists, in kubectl's order.
 * The sources are the `file` given, else the files listed in `KUBECONFIG`, else
 * `~/.kube/config`, else the pod's service account when `KUBERNETES_SERVICE_HOST`
 * and `KUBERNETES_SERVICE_PORT` are set and its token file exists. Missing `KUBECONFIG` files are skipped, and for a name defined in two of
 * them the first file wins. Returns `undefined` when there is no source. `KubeConfig.loadFromDefault()` is not used
 * because it silently falls back to http://localhost:8080.
 * Raises ConfigError for a file that cannot be read or parsed, or that names no
 * current context with a cluster.
 */
export function loadKubeConfig(search: KubeConfigSearch = {}): KubeConfig | undefined {
  if (search.file !== undefined) {
    if (!existsSync(search.file)) {
      throw new ConfigError(`kubeconfig ${search.file} not found`);
    }
    return withCurrentCluster(readFiles([search.file]), search.file);
  }

  const listed = (process.env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '' && existsSync(file));
  if (listed.length > 0) {
    return withCurrentCluster(readFiles(listed), `from KUBECONFIG (${listed.join(delimiter)})`);
  }

  const home = homedir();
  const homeConfig = home === '' ? undefined : join(home, '.kube', 'config');
  if (homeConfig !== undefined && existsSync(homeConfig)) {
    return withCurrentCluster(readFiles([homeConfig]), homeConfig);
  }

  const prefix = search.serviceAccountPathPrefix ?? '';
  if (process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT && existsSync(`${prefix}${serviceAccountTokenPath}`)) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster(prefix);
    return kubeConfig;
  }
  return undefined;
}

/** Merges kubeconfig files as kubectl does: the first definition of a name, and the first current-context set, win. */
function readFiles(files: string[]): KubeConfig {
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: '' });
  for (const file of files) {
    const kubeConfig = new KubeConfig();
    try {
      kubeConfig.loadFromFile(file);
    } catch (error) {
      throw new ConfigError(`kubeconfig ${file} cannot be read: ${(error as Error).message}`, { cause: error });
    }
    for (const cluster of kubeConfig.getClusters()) {
      if (merged.getCluster(cluster.name) === null) {
        merged.addCluster(cluster);
      }
    }
    for (const user of kubeConfig.getUsers()) {
      if (merged.getUser(user.name) === null) {
        merged.addUser(user);
      }
    }
    for (const context of kubeConfig.getContexts()) {
      if (merged.getContextObject(context.name) === null) {
        merged.addContext(context);
      }
    }
    if (merged.getCurrentContext() === '' && kubeConfig.getCurrentContext()) {
      merged.setCurrentContext(kubeConfig.getCurrentContext());
    }
  }
  return merged;
}

function withCurrentCluster(kubeConfig: KubeConfig, source: string): KubeConfig {
  if (kubeConfig.getCurrentCluster() === null) {
    const context = kubeConfig.getCurrentContext();
    const problem = context ? `its current context "${context}" names no cluster that it defines` : 'it sets no current-context';
    throw new ConfigError(`kubeconfig ${source} cannot be used: ${problem}`);
  }
  return kubeConfig;
}
