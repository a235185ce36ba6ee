import type { Logger } from 'pino';
import { readManifests } from '../manifest/read.js';
import { StaticClusterView } from './static-view.js';
import type { ClusterView } from './view.js';

export interface OpenClusterViewOptions {
  /** `--cluster-state` paths; when any is given, the view is read from them. */
  statePaths: string[];
  /** `--kubeconfig` file. */
  kubeconfigFile?: string;
  logger: Logger;
  rootNamespace: string;
}

/** The source of the cluster view: manifests, informers, or none. */
export type ClusterViewSource = 'cluster-state' | 'informers' | 'none';

export interface OpenedClusterView {
  view: ClusterView;
  source: ClusterViewSource;
  /** Starts the informers, if any; call it once the server listens. */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Chooses the cluster view for `serve`: the `--cluster-state` manifests when given
 * (offline runs), else informers through the kubeconfig when one is found, else an
 * empty view, in which no namespace is known and so none counts as PHI.
 * Raises InputError for unreadable manifests and ConfigError for a bad kubeconfig.
 */
export async function openClusterView(options: OpenClusterViewOptions): Promise<OpenedClusterView> {
  const { logger } = options;
  if (options.statePaths.length > 0) {
    const view = new StaticClusterView();
    for (const document of await readManifests(options.statePaths)) {
      view.add(document.object);
    }
    return fixed(view, 'cluster-state');
  }

  // The Kubernetes client adds about 75 MiB to the process, so it is loaded only
  // when no --cluster-state manifests are given.
  const { loadKubeConfig } = await import('./kubeconfig.js');
  const kubeConfig = loadKubeConfig(options.kubeconfigFile === undefined ? {} : { file: options.kubeconfigFile });
  if (kubeConfig === undefined) {
    logger.warn(
      { clusterView: 'none' },
      'no cluster view configured: no kubeconfig or in-cluster service account found and no --cluster-state given, so no namespace is known as PHI',
    );
    return fixed(new StaticClusterView(), 'none');
  }

  logger.info({ context: kubeConfig.getCurrentContext(), server: kubeConfig.getCurrentCluster()?.server }, 'cluster view from informers');
  const { InformerClusterView } = await import('./informer-view.js');
  const view = new InformerClusterView({ kubeConfig, logger, rootNamespace: options.rootNamespace });
  return {
    view,
    source: 'informers',
    start: () => view.start(),
    stop: () => view.stop(),
  };
}

function fixed(view: ClusterView, source: ClusterViewSource): OpenedClusterView {
  return { view, source, start: () => {}, stop: async () => {} };
}
