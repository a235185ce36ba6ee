import { request } from 'node:https';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one HTTPS request to a loopback server, verifying it against `ca`. */
export function httpsRequest(options: {
  url: string;
  ca: string;
  method?: string;
  token?: string;
  body?: string;
  contentType?: string;
  timeoutMs?: number;
}): Promise<HttpsResponse> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) {
    headers.authorization = `Bearer ${options.token}`;
  }
  if (options.body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  return new Promise((resolve, reject) => {
    const outgoing = request(options.url, { method: options.method ?? 'GET', ca: options.ca, headers, timeout: options.timeoutMs ?? 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${options.method ?? 'GET'} ${options.url} timed out`)));
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}
