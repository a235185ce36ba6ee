import { readFile } from 'node:fs/promises';
import { httpsRequest } from './https.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads the API server's /metrics as admin and returns the samples of the named metrics. */
export async function scrapeApiServer(apiServer: { url: string; caFile: string; adminToken: string }, names: readonly string[]): Promise<Sample[]> {
  const response = await httpsRequest({ url: `${apiServer.url}/metrics`, ca: await readFile(apiServer.caFile, 'utf8'), token: apiServer.adminToken, timeoutMs: 10_000 });
  if (response.status !== 200) {
    throw new Error(`GET /metrics answered HTTP ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return parseSamples(response.body).filter((sample) => names.includes(sample.name));
}

/** Parses the sample lines of the Prometheus text format; comment lines are skipped. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, '$1');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * Counts, per admission operation, the calls to the named webhooks that got a
 * valid AdmissionReview response, from the API server's admission metrics (k8s.io/apiserver
 * v0.37, pkg/admission/metrics):
 *   - apiserver_admission_webhook_request_total{rejected="false", code="200"}
 *     counts calls the webhook admitted;
 *   - apiserver_admission_webhook_rejection_count{error_type="no_error"} counts
 *     calls the webhook rejected.
 * Calls that failed (connection refused, timeout, invalid response) count as
 * `calling_webhook_error` rejections, or with a code other than 200 and
 * rejected="false" under failurePolicy Ignore, so neither sum includes them.
 */
export async function answeredWebhookCalls(apiServer: { url: string; caFile: string; adminToken: string }, webhookNames: ReadonlySet<string>): Promise<Map<string, number>> {
  const samples = await scrapeApiServer(apiServer, ['apiserver_admission_webhook_request_total', 'apiserver_admission_webhook_rejection_count']);
  const answered = new Map<string, number>();
  for (const sample of samples) {
    if (!webhookNames.has(sample.labels.name ?? '')) {
      continue;
    }
    const admitted = sample.name === 'apiserver_admission_webhook_request_total' && sample.labels.rejected === 'false' && sample.labels.code === '200';
    const rejected = sample.name === 'apiserver_admission_webhook_rejection_count' && sample.labels.error_type === 'no_error';
    if (admitted || rejected) {
      const operation = sample.labels.operation ?? '';
      answered.set(operation, (answered.get(operation) ?? 0) + sample.value);
    }
  }
  return answered;
}
