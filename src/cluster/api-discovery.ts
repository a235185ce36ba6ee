import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** The versions an API server serves for one group, from its discovery document. */
export interface ApiGroupVersions {
  preferredVersion?: string;
  versions: string[];
}

/** A failed discovery request, or a discovery response other than 200 or 404. */
export class DiscoveryError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DiscoveryError';
  }
}

const maxDiscoveryBytes = 1024 * 1024;

/**
 * Fetches the discovery document `/apis/GROUP` with the kubeconfig's credentials.
 * Resolves `undefined` when the API server returns 404, which it does while no
 * CustomResourceDefinition of that group is installed. `signal` cancels the request.
 */
export async function fetchApiGroup(
  kubeConfig: KubeConfig,
  group: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ApiGroupVersions | undefined> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) {
    throw new DiscoveryError('the kubeconfig has no current cluster');
  }
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}/apis/${encodeURIComponent(group)}`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const options: RequestOptions = {
    method: 'GET',
    headers: { Accept: 'application/json' },
    signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
  };
  // Sets the credentials, the CA and an agent that honours the kubeconfig's proxy-url.
  await kubeConfig.applyToHTTPSOptions(options);

  let response: { statusCode: number; body: string };
  try {
    response = await send(url, options);
  } catch (error) {
    if (timeout.aborted) {
      throw new DiscoveryError(`GET ${url.pathname} timed out after ${timeoutMs} ms`, undefined, { cause: error });
    }
    throw error;
  }
  if (response.statusCode === 404) {
    return undefined;
  }
  if (response.statusCode !== 200) {
    throw new DiscoveryError(`GET ${url.pathname} returned HTTP ${response.statusCode}`, response.statusCode);
  }
  return parseApiGroup(response.body, url.pathname);
}

/**
 * Picks the version to watch: the group's preferred version, else `v1`, else
 * `v1beta1` when served; `undefined` when none of these is available.
 */
export function chooseVersion(group: ApiGroupVersions): string | undefined {
  if (group.preferredVersion !== undefined && group.preferredVersion !== '') {
    return group.preferredVersion;
  }
  return ['v1', 'v1beta1'].find((version) => group.versions.includes(version));
}

function parseApiGroup(body: string, path: string): ApiGroupVersions {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    throw new DiscoveryError(`GET ${path} returned a body that is not JSON`, 200, { cause: error });
  }
  const apiGroup = (typeof document === 'object' && document !== null ? document : {}) as {
    versions?: { version?: unknown }[];
    preferredVersion?: { version?: unknown };
  };
  const versions = (Array.isArray(apiGroup.versions) ? apiGroup.versions : [])
    .map((entry) => entry?.version)
    .filter((version): version is string => typeof version === 'string');
  const preferred = apiGroup.preferredVersion?.version;
  return typeof preferred === 'string' ? { preferredVersion: preferred, versions } : { versions };
}

function send(url: URL, options: RequestOptions): Promise<{ statusCode: number; body: string }> {
  const requestFunction = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const request = requestFunction(url, options, (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxDiscoveryBytes) {
          request.destroy(new DiscoveryError(`GET ${url.pathname} returned more than ${maxDiscoveryBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}
