import { createServer } from 'node:https';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { openClusterView } from '../cluster/open-view.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../metrics/metrics.js';
import { DecisionRecorder } from '../records/recorder.js';
import { rules } from '../rules/catalog.js';
import { createApp } from '../server/app.js';
import { CertificateReloader } from '../tls/certificate-reloader.js';
import { loadServingCertificate } from '../tls/serving-certificate.js';
import { GuardError, RecordWriteError } from '../errors.js';
import { UsageError } from './usage-error.js';

export const serveUsage = `Usage: phi-mesh-guard serve [options]

Serves the admission webhook over HTTPS: POST /mutate, POST /validate, GET /healthz, GET /readyz,
GET /metrics.

Options:
  --config FILE            configuration file (YAML or JSON); defaults serve a local run
  --port N                 HTTPS port (default 8443)
  --host ADDRESS           address to listen on (default 0.0.0.0, every interface;
                           127.0.0.1 keeps a local run on loopback)
  --cert-dir DIR           folder for the development certificate (default certs)
  --cluster-state PATH     Namespace and PeerAuthentication manifests that form the
                           cluster view (file, folder or -; repeatable); for offline runs
  --kubeconfig FILE        kubeconfig for the live cluster view; without it, KUBECONFIG,
                           ~/.kube/config, then the pod's service account are tried
  --records FILE           decision record file (default records/decisions.jsonl)
  --mode enforce|dry-run   default mode for namespaces without a mode label
  --log-level LEVEL        fatal, error, warn, info, debug, trace or silent

The cluster view (namespace labels, namespace-wide PeerAuthentications) comes from
--cluster-state when given, else from informers through the kubeconfig. With neither,
it is empty and no namespace counts as PHI.
`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'cert-dir': { type: 'string' },
      'cluster-state': { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      records: { type: 'string' },
      mode: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(serveUsage);
    return 0;
  }

  if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) {
    throw new UsageError(`--port must be a whole number from 1 to 65535, found "${values.port}"`);
  }
  const config = await loadConfig({
    ...(values.config !== undefined ? { file: values.config } : {}),
    overrides: {
      'server.port': values.port === undefined ? undefined : Number(values.port),
      'server.host': values.host,
      'server.certDir': values['cert-dir'],
      'records.path': values.records,
      defaultMode: values.mode,
      logLevel: values['log-level'],
    },
  });
  const logger = createLogger(config.logLevel);

  const statePaths = values['cluster-state'] ?? [];
  if (statePaths.length > 0 && values.kubeconfig !== undefined) {
    throw new UsageError('--cluster-state and --kubeconfig cannot be combined: the first gives an offline cluster view, the second a live one');
  }
  const clusterView = await openClusterView({
    statePaths,
    ...(values.kubeconfig !== undefined ? { kubeconfigFile: values.kubeconfig } : {}),
    logger,
    rootNamespace: config.rootNamespace,
  });
  const view = clusterView.view;

  const replica = process.env.POD_NAME ?? hostname();
  const recorder = await openRecorder(config.records.path, replica, config.records.fsyncIntervalMs);
  const certificate = await loadServingCertificate(config.server, logger);

  const tlsOptions = { minVersion: 'TLSv1.2' } as const;
  const reloader = new CertificateReloader({
    certificate,
    contextOptions: tlsOptions,
    logger,
    pollIntervalMs: config.server.certReloadIntervalSeconds * 1000,
    expiryWarningDays: config.server.certExpiryWarningDays,
  });

  const metrics = createMetrics({ certificateNotAfter: () => reloader.notAfter, clusterViewSynced: () => view.synced() });
  const app = createApp({ config, view, rules, sink: recorder, logger, metrics, isReady: () => view.synced() });
  const server = createServer({ cert: certificate.cert, key: certificate.key, ...tlsOptions }, app);
  server.keepAliveTimeout = 65_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.server.port, config.server.host, () => resolve());
    });
  } catch (error) {
    await recorder.close();
    throw listenError(error, config.server.host, config.server.port);
  }
  reloader.start(server);
  clusterView.start();
  logger.info(
    {
      port: config.server.port,
      host: config.server.host,
      defaultMode: config.defaultMode,
      records: config.records.path,
      replica,
      clusterView: clusterView.source,
      clusterStateFiles: statePaths.length,
      certFile: certificate.certFile,
      certificateNotAfter: certificate.notAfter.toISOString(),
    },
    'phi-mesh-guard serving',
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      reloader.stop();
      clusterView.stop().catch((error: unknown) => logger.error({ err: error }, 'cluster view informers not stopped cleanly'));
      server.close(() => {
        recorder
          .close()
          .then(() => resolve(0))
          .catch((error: unknown) => {
            logger.error({ err: error }, 'decision records not closed cleanly');
            resolve(1);
          });
      });
      server.closeIdleConnections();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function openRecorder(path: string, replica: string, fsyncIntervalMs: number): Promise<DecisionRecorder> {
  try {
    return await DecisionRecorder.open({ path, replica, fsyncIntervalMs });
  } catch (error) {
    const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
    throw new RecordWriteError(`cannot open decision record file ${path}: ${cause}; give --records (or records.path) a writable file`, { cause: error });
  }
}

function listenError(error: unknown, host: string, port: number): GuardError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'EADDRINUSE'
      ? 'the address is already in use; stop the other process or choose another port with --port'
      : code === 'EACCES'
        ? 'permission denied; choose a port above 1023 with --port'
        : (error as Error).message;
  return new GuardError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${reason}`, { cause: error });
}
