import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/admission/types.js';
import { StaticClusterView } from '../../src/cluster/static-view.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { Rule } from '../../src/rules/rule.js';
import { createApp } from '../../src/server/app.js';
import { makeConfig, namespace, phiNamespace } from '../support/context.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { replicaSetPod, reviewFor } from '../support/reviews.js';

const cluster = [
  phiNamespace('oncology-records', { 'istio-injection': 'enabled' }),
  phiNamespace('claims', { 'istio-injection': 'enabled', 'phi-mesh-guard.io/mode': 'dry-run' }),
  namespace('marketing'),
];

let running: TestApp | undefined;
async function start(options: Parameters<typeof startTestApp>[0] = {}): Promise<TestApp> {
  running = await startTestApp({ cluster, ...options });
  return running;
}
afterEach(async () => {
  await running?.recorder.close();
  running = undefined;
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format into samples; comment lines are skipped. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) {
      throw new Error(`not a Prometheus sample line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) {
    throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return found[0]?.value;
}

async function scrape(app: TestApp['app']): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(app).get('/metrics').expect(200);
  return { text: res.text, samples: parseSamples(res.text) };
}

function injectedPod(labels: Record<string, string> = {}): KubeObject {
  return replicaSetPod({
    labels: { app: 'records-api', 'phi-mesh-guard.io/phi': 'true', 'sidecar.istio.io/inject': 'true', ...labels },
    containers: [{ name: 'api', image: 'registry.example.org/patient-records/api:2.14.3' }, { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0' }],
  });
}

function hostNetworkPod(): KubeObject {
  const pod = injectedPod();
  (pod.spec as Record<string, unknown>).hostNetwork = true;
  return pod;
}

describe('GET /metrics', () => {
  it('serves the Prometheus text format', async () => {
    const { app } = await start();
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.text).toContain('# TYPE phi_mesh_guard_reviews_total counter');
    expect(res.text).toContain('# TYPE phi_mesh_guard_request_duration_seconds histogram');
  });

  it('includes process metrics with the guard prefix', async () => {
    const { app } = await start();
    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, 'phi_mesh_guard_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'phi_mesh_guard_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('reports the cluster view as synced', async () => {
    const { app } = await start();
    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_cluster_view_synced')).toBe(1);
  });

  it('reports seconds until the certificate expires', async () => {
    const notAfter = new Date(Date.now() + 30 * 86_400_000);
    const { app } = await start({ certificateNotAfter: () => notAfter });
    const { samples } = await scrape(app);
    const seconds = valueOf(samples, 'phi_mesh_guard_certificate_expiry_seconds')!;
    expect(seconds).toBeGreaterThan(30 * 86_400 - 60);
    expect(seconds).toBeLessThanOrEqual(30 * 86_400);
  });

  it('omits the certificate gauge without a certificate', async () => {
    const { app } = await start();
    const { text } = await scrape(app);
    expect(text).not.toContain('phi_mesh_guard_certificate_expiry_seconds');
  });

  it('starts every error kind at zero', async () => {
    const { app } = await start();
    const { samples } = await scrape(app);
    for (const kind of ['invalid_review', 'body_too_large', 'evaluation_failed', 'record_write_failed', 'internal']) {
      expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind }), kind).toBe(0);
    }
  });
});

describe('review counters', () => {
  it.each([
    { name: 'pod mutation', endpoint: 'mutate', object: replicaSetPod(), ns: 'oncology-records', decision: 'mutate', mode: 'enforce' },
    { name: 'final pod allowed', endpoint: 'validate', object: injectedPod(), ns: 'oncology-records', decision: 'allow', mode: 'enforce' },
    { name: 'host network denied', endpoint: 'validate', object: hostNetworkPod(), ns: 'oncology-records', decision: 'deny', mode: 'enforce' },
    { name: 'dry-run denial', endpoint: 'validate', object: hostNetworkPod(), ns: 'claims', decision: 'would-deny', mode: 'dry-run' },
  ])('counts a $name', async ({ endpoint, object, ns, decision, mode }) => {
    const { app } = await start();
    await request(app).post(`/${endpoint}`).send(reviewFor(object, { namespace: ns })).expect(200);
    await request(app).post(`/${endpoint}`).send(reviewFor(object, { namespace: ns })).expect(200);

    const { samples } = await scrape(app);
    const labels = { endpoint, operation: 'CREATE', kind: 'Pod', decision, mode };
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total', labels)).toBe(2);
    expect(samples.filter((sample) => sample.name === 'phi_mesh_guard_reviews_total')).toHaveLength(1);
  });

  it('counts violations by rule', async () => {
    const { app } = await start();
    await request(app).post('/validate').send(reviewFor(hostNetworkPod(), { namespace: 'oncology-records' })).expect(200);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_violations_total', { rule: 'pod-host-network', exempted: 'false' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_violations_total', { rule: 'pod-host-network', exempted: 'true' })).toBeUndefined();
  });

  it('counts exempted violations apart', async () => {
    const exemption = { rule: 'pod-host-network', kind: 'Pod', namespace: 'oncology-records', selector: { matchLabels: { app: 'records-api' } }, reason: 'node agent' };
    const { app } = await start({ config: { exemptions: [exemption] } });
    const res = await request(app).post('/validate').send(reviewFor(hostNetworkPod(), { namespace: 'oncology-records' })).expect(200);
    expect(res.body.response.allowed).toBe(true);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_violations_total', { rule: 'pod-host-network', exempted: 'true' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total', { decision: 'allow' })).toBe(1);
  });

  it('keeps apps apart', async () => {
    const first = await startTestApp({ cluster });
    const second = await start();
    await request(first.app).post('/mutate').send(reviewFor(replicaSetPod(), { namespace: 'oncology-records' })).expect(200);

    const { samples } = await scrape(second.app);
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total', { endpoint: 'mutate' })).toBeUndefined();
    await first.recorder.close();
  });
});

describe('durations', () => {
  it('observes evaluation, record write and request', async () => {
    const { app } = await start();
    await request(app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'oncology-records' })).expect(200);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_evaluation_duration_seconds_count', { endpoint: 'validate' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_evaluation_duration_seconds_sum', { endpoint: 'validate' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'phi_mesh_guard_request_duration_seconds_count', { endpoint: 'validate' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_request_duration_seconds_bucket', { endpoint: 'validate', le: '+Inf' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_record_write_duration_seconds_count')).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_records_written_total')).toBe(1);
  });

  it('skips evaluation time for an unusable review', async () => {
    const { app } = await start();
    const body = reviewFor(injectedPod(), { namespace: 'oncology-records' });
    delete (body.request as Record<string, unknown>).object;
    await request(app).post('/mutate').send(body).expect(200);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_evaluation_duration_seconds_count', { endpoint: 'mutate' })).toBeUndefined();
    expect(valueOf(samples, 'phi_mesh_guard_request_duration_seconds_count', { endpoint: 'mutate' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_records_written_total')).toBe(1);
  });
});

describe('label cardinality', () => {
  it.each([
    { name: 'unknown kind', kind: { group: 'example.org', version: 'v1', kind: 'Widget' }, operation: 'CREATE', expected: { kind: 'other', operation: 'CREATE' } },
    { name: 'checked kind', kind: { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication' }, operation: 'CREATE', expected: { kind: 'PeerAuthentication', operation: 'CREATE' } },
    { name: 'unknown operation', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH', expected: { kind: 'Pod', operation: 'other' } },
  ])('maps $name to a fixed value', async ({ kind, operation, expected }) => {
    const { app } = await start();
    const object = { apiVersion: 'example.org/v1', kind: kind.kind, metadata: { name: 'gadget-7731', namespace: 'marketing' }, spec: {} };
    const body = reviewFor(object, { kind });
    (body.request as Record<string, unknown>).operation = operation;
    await request(app).post('/validate').send(body).expect(200);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total', expected)).toBe(1);
  });

  it('never exposes names, namespaces or unknown kinds', async () => {
    const { app } = await start();
    const widget = { apiVersion: 'example.org/v1', kind: 'Widget', metadata: { name: 'gadget-7731', namespace: 'marketing' }, spec: {} };
    const pod = replicaSetPod({ labels: { app: 'tumor-board-api' } });
    pod.metadata!.name = 'tumor-board-api-x7k2p';
    await request(app).post('/validate').send(reviewFor(widget)).expect(200);
    await request(app).post('/mutate').send(reviewFor(pod, { namespace: 'oncology-records' })).expect(200);

    const { text } = await scrape(app);
    for (const exposed of ['gadget-7731', 'Widget', 'tumor-board', 'oncology-records', 'marketing', 'records-api']) {
      expect(text, exposed).not.toContain(exposed);
    }
  });
});

describe('error counter', () => {
  it.each([
    {
      name: 'malformed JSON',
      kind: 'invalid_review',
      send: (app: TestApp['app']) => request(app).post('/validate').set('Content-Type', 'application/json').send('{"apiVersion": ').expect(400),
    },
    {
      name: 'review without uid',
      kind: 'invalid_review',
      send: (app: TestApp['app']) => request(app).post('/validate').send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }).expect(400),
    },
    {
      name: 'review without object',
      kind: 'invalid_review',
      send: (app: TestApp['app']) => {
        const body = reviewFor(injectedPod(), { namespace: 'oncology-records' });
        delete (body.request as Record<string, unknown>).object;
        return request(app).post('/validate').send(body).expect(200);
      },
    },
    {
      name: 'other content type',
      kind: 'invalid_review',
      send: (app: TestApp['app']) => request(app).post('/validate').set('Content-Type', 'text/plain').send('hello').expect(415),
    },
    {
      name: 'malformed field',
      kind: 'evaluation_failed',
      send: (app: TestApp['app']) => {
        const pod = replicaSetPod();
        (pod.spec as Record<string, unknown>).containers = 'api';
        return request(app).post('/validate').send(reviewFor(pod, { namespace: 'oncology-records' })).expect(200);
      },
    },
  ])('counts $name as $kind', async ({ kind, send }) => {
    const { app } = await start();
    await send(app);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind })).toBe(1);
    const others = samples.filter((sample) => sample.name === 'phi_mesh_guard_errors_total' && sample.labels.kind !== kind);
    expect(others.map((sample) => sample.value)).toEqual([0, 0, 0, 0]);
  });

  it('counts a body over the limit', async () => {
    const { app } = await start({ config: { server: { bodyLimitBytes: 4096 } } });
    const pod = replicaSetPod({ annotations: { note: 'x'.repeat(8000) } });
    await request(app).post('/validate').send(reviewFor(pod, { namespace: 'oncology-records' })).expect(413);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind: 'body_too_large' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_request_duration_seconds_count', { endpoint: 'validate' })).toBe(1);
  });

  it('counts a failed record write', async () => {
    const failing = { append: () => Promise.reject(new Error('disk full')) };
    const { app } = await start({ sink: failing });
    await request(app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'oncology-records' })).expect(500);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind: 'record_write_failed' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_record_write_duration_seconds_count')).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_records_written_total')).toBe(0);
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total')).toBeUndefined();
  });

  it('counts a rule that throws as internal', async () => {
    const brokenRule: Rule = {
      id: 'pod-host-network',
      severity: 'high',
      controls: ['164.312(e)(1)'],
      summary: 'throws on every pod',
      stages: ['validate'],
      matches: () => true,
      check: () => {
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const view = new StaticClusterView(cluster);
    const metrics = createMetrics({ processMetrics: false });
    const app = createApp({
      config: makeConfig(),
      view,
      rules: [brokenRule],
      sink: { append: () => Promise.resolve({}) },
      logger: createLogger('silent'),
      metrics,
      isReady: () => true,
    });
    const res = await request(app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'oncology-records' })).expect(200);
    expect(res.body.response.allowed).toBe(false);

    const { samples } = await scrape(app);
    expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind: 'internal' })).toBe(1);
    expect(valueOf(samples, 'phi_mesh_guard_errors_total', { kind: 'evaluation_failed' })).toBe(0);
    expect(valueOf(samples, 'phi_mesh_guard_reviews_total', { decision: 'error' })).toBe(1);
  });
});
