import { spawn } from 'node:child_process';
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  loadYaml,
  ServerConfiguration,
  type KubernetesObject,
  type Middleware,
} from '@kubernetes/client-node';

export type UserName = 'admin' | 'developer' | 'break-glass';

/** What the API server sent back for a request it rejected. */
export interface ApiRejection {
  code: number;
  reason: string;
  message: string;
}

/** A response object with the warnings that came with it. */
export interface WithWarnings<T> {
  object: T;
  warnings: string[];
}

/**
 * API clients for one user of the test API server, from the harness's
 * kubeconfig. Every response's Warning headers are collected, so `call` can
 * return them with the object. Not for concurrent calls: the warnings of two
 * calls in flight at once would mix.
 */
export class UserClient {
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  private collected: string[] = [];

  constructor(kubeconfigFile: string, readonly user: UserName) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigFile);
    kubeConfig.setCurrentContext(user);
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) {
      throw new Error(`kubeconfig ${kubeconfigFile} has no cluster for context ${user}`);
    }
    const collector: Middleware = {
      pre: async (context) => context,
      post: async (context) => {
        const header = context.headers.warning;
        if (header !== undefined) {
          this.collected.push(...parseWarnings(header));
        }
        return context;
      },
    };
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [collector],
    });
    this.objects = new KubernetesObjectApi(configuration);
    this.core = new CoreV1Api(configuration);
  }

  /**
   * Runs one request and returns its result with the warnings the API server
   * sent. A rejection is raised as an Error that carries the API server's
   * status code, reason and message, so a failing test shows them.
   */
  async call<T>(description: string, request: (client: this) => Promise<T>): Promise<WithWarnings<T>> {
    this.collected = [];
    try {
      const object = await request(this);
      return { object, warnings: this.collected };
    } catch (error) {
      throw describeFailure(`${this.user}: ${description}`, error);
    }
  }

  /**
   * Runs one request that the API server must reject, and returns the
   * rejection. Raises when the request succeeds, naming what was stored.
   */
  async rejection(description: string, request: (client: this) => Promise<unknown>): Promise<ApiRejection & { warnings: string[] }> {
    this.collected = [];
    let result: unknown;
    try {
      result = await request(this);
    } catch (error) {
      const rejection = rejectionOf(error);
      if (rejection === undefined) {
        throw describeFailure(`${this.user}: ${description}`, error);
      }
      return { ...rejection, warnings: this.collected };
    }
    const metadata = (result as KubernetesObject | undefined)?.metadata;
    throw new Error(`${this.user}: ${description}: expected the API server to reject the request, but it succeeded (${metadata?.namespace ?? ''}/${metadata?.name ?? ''})`);
  }

  /** Creates `object`, given in its wire form (as in YAML or JSON); with `dryRun`, the API server stores nothing. */
  create<T extends KubernetesObject>(object: T, options: { dryRun?: boolean } = {}): Promise<WithWarnings<T>> {
    return this.call(`create ${label(object)}`, (client) => client.objects.create(toModel(object), undefined, options.dryRun ? 'All' : undefined));
  }

  /** Reads an object, or returns undefined when the API server responds 404 Not Found. */
  async read<T extends KubernetesObject>(header: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<T | undefined> {
    try {
      return (await this.objects.read(header)) as T;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) {
        return undefined;
      }
      throw describeFailure(`${this.user}: read ${label(header)}`, error);
    }
  }
}

/**
 * Converts an object in wire form into the client's model of its kind.
 * KubernetesObjectApi serializes known kinds through their models, whose
 * property names differ from the wire names in places (a CRD's
 * `x-kubernetes-preserve-unknown-fields` is `x_kubernetes_preserve_unknown_fields`
 * there), and it drops a wire-named property it does not know.
 */
function toModel<T>(object: T): T {
  return loadYaml<T>(JSON.stringify(object));
}

/** A failed request, with the API server's rejection when there was one. */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly rejection: ApiRejection | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'ApiRequestError';
  }
}

/** The API server's rejection carried by a client error, or undefined for other errors. */
export function rejectionOf(error: unknown): ApiRejection | undefined {
  if (error instanceof ApiRequestError) {
    return error.rejection;
  }
  if (!(error instanceof ApiException)) {
    return undefined;
  }
  const status = parseStatus(error.body);
  return { code: error.code, reason: status?.reason ?? '', message: status?.message ?? String(error.body) };
}

function describeFailure(description: string, error: unknown): Error {
  if (error instanceof ApiRequestError) {
    return error;
  }
  const rejection = rejectionOf(error);
  if (rejection === undefined) {
    return new ApiRequestError(`${description} failed: ${(error as Error).message}`, undefined, { cause: error });
  }
  return new ApiRequestError(`${description} failed: the API server answered HTTP ${rejection.code} ${rejection.reason}: ${rejection.message}`, rejection, { cause: error });
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  if (typeof body === 'object' && body !== null) {
    return body as { reason?: string; message?: string };
  }
  if (typeof body !== 'string') {
    return undefined;
  }
  try {
    return JSON.parse(body) as { reason?: string; message?: string };
  } catch {
    return { message: body };
  }
}

/**
 * Splits a Warning header into its texts. The API server sends each warning as
 * `299 - "text"`, and the HTTP client joins repeated headers with ", ".
 */
export function parseWarnings(header: string): string[] {
  const texts: string[] = [];
  for (const match of header.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)) {
    texts.push(match[1]!.replace(/\\(.)/g, '$1'));
  }
  return texts;
}

function label(object: { kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  const namespace = object.metadata?.namespace;
  return `${object.kind ?? 'object'} ${namespace === undefined ? '' : `${namespace}/`}${object.metadata?.name ?? ''}`;
}

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built kubectl as `user` with the harness's kubeconfig, feeding
 * `stdin` when given. HOME points into the run's folder, so kubectl's discovery
 * cache stays out of the real home folder.
 */
export function runKubectl(
  paths: { kubectl: string; kubeconfig: string; home: string },
  user: UserName,
  args: readonly string[],
  stdin?: string,
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(paths.kubectl, [`--kubeconfig=${paths.kubeconfig}`, `--context=${user}`, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: paths.home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}
