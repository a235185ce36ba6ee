import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/admission/types.js';
import { verifyChain } from '../../src/records/verify.js';
import { namespace, phiNamespace } from '../support/context.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { decodePatch, replicaSetPod, reviewFor } from '../support/reviews.js';

const sidecarNamespace = phiNamespace('patient-records', { 'istio-injection': 'enabled' });
const dryRunNamespace = phiNamespace('claims', { 'istio-injection': 'enabled', 'phi-mesh-guard.io/mode': 'dry-run' });
const cluster = [sidecarNamespace, dryRunNamespace, namespace('marketing'), namespace('istio-system')];

let running: TestApp | undefined;
async function start(options: Parameters<typeof startTestApp>[0] = {}): Promise<TestApp> {
  running = await startTestApp({ cluster, ...options });
  return running;
}
afterEach(async () => {
  await running?.recorder.close();
  running = undefined;
});

function injectedPod(labels: Record<string, string> = {}): KubeObject {
  return replicaSetPod({
    labels: { app: 'records-api', 'phi-mesh-guard.io/phi': 'true', 'sidecar.istio.io/inject': 'true', ...labels },
    containers: [{ name: 'api', image: 'registry.example.org/patient-records/api:2.14.3' }, { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0' }],
  });
}

async function readRecords(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('POST /mutate', () => {
  it('labels a pod created by a ReplicaSet', async () => {
    const { app } = await start();
    const body = reviewFor(replicaSetPod(), { namespace: 'patient-records' });
    const res = await request(app).post('/mutate').send(body).expect(200);

    expect(res.body.apiVersion).toBe('admission.k8s.io/v1');
    expect(res.body.kind).toBe('AdmissionReview');
    expect(res.body.response.uid).toBe((body.request as { uid: string }).uid);
    expect(res.body.response.allowed).toBe(true);
    expect(res.body.response.patchType).toBe('JSONPatch');
    expect(decodePatch(res.body.response.patch)).toEqual([
      { op: 'add', path: '/metadata/labels/phi-mesh-guard.io~1phi', value: 'true' },
      { op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'true' },
    ]);
  });

  it('answers v1beta1 reviews in kind', async () => {
    const { app } = await start();
    const body = reviewFor(replicaSetPod(), { namespace: 'patient-records', apiVersion: 'admission.k8s.io/v1beta1' });
    const res = await request(app).post('/mutate').send(body).expect(200);
    expect(res.body.apiVersion).toBe('admission.k8s.io/v1beta1');
    expect(res.body.response.uid).toBe((body.request as { uid: string }).uid);
    expect(res.body.response.patchType).toBe('JSONPatch');
  });

  it('creates a missing labels map whole', async () => {
    const { app } = await start();
    const pod = replicaSetPod();
    delete pod.metadata!.labels;
    const res = await request(app).post('/mutate').send(reviewFor(pod, { namespace: 'patient-records' })).expect(200);
    expect(decodePatch(res.body.response.patch)).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'phi-mesh-guard.io/phi': 'true', 'sidecar.istio.io/inject': 'true' } },
    ]);
  });

  it('sends no patch when labels are already right', async () => {
    const { app } = await start();
    const res = await request(app).post('/mutate').send(reviewFor(injectedPod(), { namespace: 'patient-records' })).expect(200);
    expect(res.body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('reports a would-be patch as a warning in dry-run', async () => {
    const { app, recordsPath } = await start();
    const res = await request(app).post('/mutate').send(reviewFor(replicaSetPod(), { namespace: 'claims' })).expect(200);
    expect(res.body.response.allowed).toBe(true);
    expect(res.body.response.patch).toBeUndefined();
    expect(res.body.response.patchType).toBeUndefined();
    expect(res.body.response.warnings).toEqual([
      'phi-mesh-guard dry-run: would patch add /metadata/labels/phi-mesh-guard.io~1phi "true"',
      'phi-mesh-guard dry-run: would patch add /metadata/labels/sidecar.istio.io~1inject "true"',
    ]);
    const [record] = await readRecords(recordsPath);
    expect(record).toMatchObject({ decision: 'would-mutate', mode: 'dry-run' });
  });

  it('leaves pods outside PHI namespaces alone', async () => {
    const { app } = await start();
    const res = await request(app).post('/mutate').send(reviewFor(replicaSetPod(), { namespace: 'marketing' })).expect(200);
    expect(res.body.response).toEqual({ uid: expect.any(String), allowed: true });
  });
});

describe('POST /validate', () => {
  it('denies a final pod without a proxy and never patches', async () => {
    const { app } = await start();
    const body = reviewFor(replicaSetPod({ labels: { app: 'records-api', 'phi-mesh-guard.io/phi': 'true', 'sidecar.istio.io/inject': 'true' } }), {
      namespace: 'patient-records',
    });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.code).toBe(403);
    expect(res.body.response.status.message).toMatch(/^\[pod-sidecar-present\] Pod patient-records\/records-api-6d8f7b9c4- /);
    expect(res.body.response.patch).toBeUndefined();
    expect(res.body.response.patchType).toBeUndefined();
  });

  it('admits an injected pod', async () => {
    const { app } = await start();
    const res = await request(app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'patient-records' })).expect(200);
    expect(res.body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('admits a native sidecar', async () => {
    const { app } = await start();
    const pod = replicaSetPod({
      labels: { app: 'records-api', 'phi-mesh-guard.io/phi': 'true' },
      initContainers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0', restartPolicy: 'Always' }],
    });
    const res = await request(app).post('/validate').send(reviewFor(pod, { namespace: 'patient-records' })).expect(200);
    expect(res.body.response.allowed).toBe(true);
  });

  it('returns dry-run denials as warnings', async () => {
    const { app, recordsPath } = await start();
    const pod = replicaSetPod({ labels: { app: 'records-api', 'sidecar.istio.io/inject': 'false' } });
    const res = await request(app).post('/validate').send(reviewFor(pod, { namespace: 'claims' })).expect(200);
    expect(res.body.response.allowed).toBe(true);
    expect(res.body.response.warnings.some((w: string) => w.startsWith('phi-mesh-guard dry-run: would deny [pod-injection-opt-out]'))).toBe(true);
    const [record] = await readRecords(recordsPath);
    expect(record).toMatchObject({ decision: 'would-deny', mode: 'dry-run' });
  });

  it.each([
    { name: 'PeerAuthentication v1', apiVersion: 'security.istio.io/v1' },
    { name: 'PeerAuthentication v1beta1', apiVersion: 'security.istio.io/v1beta1' },
  ])('rejects PERMISSIVE through $name', async ({ apiVersion }) => {
    const { app } = await start();
    const policy = { apiVersion, kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'patient-records' }, spec: { mtls: { mode: 'PERMISSIVE' } } };
    const res = await request(app).post('/validate').send(reviewFor(policy)).expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toMatch(/^\[mtls-strict\] /);
  });

  it('rejects an allow-all AuthorizationPolicy', async () => {
    const { app } = await start();
    const policy = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-all', namespace: 'patient-records' }, spec: { rules: [{}] } };
    const res = await request(app).post('/validate').send(reviewFor(policy)).expect(200);
    expect(res.body.response.status.message).toMatch(/^\[authz-no-wildcard-allow\] /);
  });

  it('rejects a mesh-wide DestinationRule that disables mTLS', async () => {
    const { app } = await start();
    const rule = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'mesh-default', namespace: 'istio-system' },
      spec: { host: '*.svc.cluster.local', trafficPolicy: { tls: { mode: 'DISABLE' } } },
    };
    const res = await request(app).post('/validate').send(reviewFor(rule)).expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toMatch(/^\[dr-mtls-required\] /);
  });

  it('reads oldObject on DELETE', async () => {
    const { app, recordsPath } = await start();
    const body = reviewFor(null, { operation: 'DELETE', oldObject: sidecarNamespace, name: 'patient-records' });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toMatch(/^\[namespace-guard\] /);
    const [record] = await readRecords(recordsPath);
    expect(record).toMatchObject({ operation: 'DELETE', kind: 'Namespace', name: 'patient-records', decision: 'deny' });
  });

  it.each([
    { name: 'ordinary user is denied', user: { username: 'alice@example.org', groups: ['developers'] }, allowed: false },
    { name: 'break-glass group is admitted', user: { username: 'oncall@example.org', groups: ['phi-break-glass'] }, allowed: true },
  ])('pods/exec: $name and recorded', async ({ user, allowed }) => {
    const { app, recordsPath } = await start({ config: { breakGlass: { groups: ['phi-break-glass'] } } });
    const options = { apiVersion: 'v1', kind: 'PodExecOptions', command: ['sh'], container: 'api', stdin: true, tty: true };
    const body = reviewFor(options as KubeObject, {
      operation: 'CONNECT',
      namespace: 'patient-records',
      name: 'records-api-6d8f7b9c4-x2x9k',
      resource: 'pods',
      subResource: 'exec',
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      user,
    });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.allowed).toBe(allowed);
    const [record] = await readRecords(recordsPath);
    expect(record).toMatchObject({ operation: 'CONNECT', subResource: 'exec', name: 'records-api-6d8f7b9c4-x2x9k', user });
  });

  it.each([
    { name: 'status update', namespace: 'patient-records', subResource: 'status', operation: 'UPDATE' as const },
    { name: 'pod in istio-system', namespace: 'istio-system', subResource: undefined, operation: 'CREATE' as const },
    { name: 'pod in kube-system', namespace: 'kube-system', subResource: undefined, operation: 'CREATE' as const },
  ])('passes $name untouched', async ({ namespace: ns, subResource, operation }) => {
    const { app } = await start();
    const pod = replicaSetPod({ labels: { 'sidecar.istio.io/inject': 'false' } });
    const body = reviewFor(pod, { namespace: ns, operation, ...(operation === 'UPDATE' ? { oldObject: pod } : {}), ...(subResource ? { subResource } : {}) });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('passes an update to a terminating pod', async () => {
    const { app } = await start();
    const pod = replicaSetPod({ labels: { 'sidecar.istio.io/inject': 'false' } });
    const terminating = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: '2026-12-04T12:00:00Z' } };
    const body = reviewFor(terminating, { namespace: 'patient-records', operation: 'UPDATE', oldObject: pod });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.allowed).toBe(true);
  });
});

describe('bad input', () => {
  it('answers malformed JSON with 400', async () => {
    const { app } = await start();
    const res = await request(app).post('/validate').set('Content-Type', 'application/json').send('{"apiVersion": ').expect(400);
    expect(res.body.code).toBe('INVALID_REVIEW');
    expect(res.body.message).toMatch(/^request body is not valid JSON: /);
  });

  it.each([
    { name: 'not an object', body: [1, 2], message: 'request body must be a JSON object holding an AdmissionReview' },
    {
      name: 'wrong kind',
      body: { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' },
      message: 'body must be an AdmissionReview of apiVersion admission.k8s.io/v1 or v1beta1, found kind "Pod" and apiVersion "admission.k8s.io/v1"',
    },
    { name: 'no request', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, message: 'AdmissionReview has no request' },
    { name: 'no uid', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }, message: 'AdmissionReview request.uid is missing' },
  ])('answers $name with 400 and a message', async ({ body, message }) => {
    const { app } = await start();
    const res = await request(app).post('/mutate').send(body).expect(400);
    expect(res.body).toEqual({ code: 'INVALID_REVIEW', message });
  });

  it('echoes the uid when the object is missing', async () => {
    const { app, recordsPath } = await start();
    const body = reviewFor(replicaSetPod(), { namespace: 'patient-records' });
    delete (body.request as Record<string, unknown>).object;
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response).toEqual({
      uid: (body.request as { uid: string }).uid,
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: 'phi-mesh-guard: request.object is missing; a CREATE review must carry the object' },
    });
    const [record] = await readRecords(recordsPath);
    expect(record).toMatchObject({ decision: 'error', error: 'request.object is missing; a CREATE review must carry the object' });
  });

  it('echoes the uid and names a malformed field', async () => {
    const { app } = await start();
    const pod = replicaSetPod();
    (pod.spec as Record<string, unknown>).containers = 'api';
    const body = reviewFor(pod, { namespace: 'patient-records' });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.uid).toBe((body.request as { uid: string }).uid);
    expect(res.body.response.allowed).toBe(false);
    expect(res.body.response.status.message).toContain('spec.containers must be a list');
  });

  it('rejects bodies over the limit with 413', async () => {
    const { app } = await start({ config: { server: { bodyLimitBytes: 4096 } } });
    const pod = replicaSetPod({ annotations: { note: 'x'.repeat(8000) } });
    const res = await request(app).post('/validate').send(reviewFor(pod, { namespace: 'patient-records' })).expect(413);
    expect(res.body.message).toBe('request body exceeds the limit of 4096 bytes (server.bodyLimitBytes)');
  });

  it('accepts an UPDATE of two maximum-size objects by default', async () => {
    const { app } = await start();
    const big = (): KubeObject => injectedPod({ big: 'yes' });
    const object = big();
    object.metadata!.annotations = { blob: 'x'.repeat(1536 * 1024) };
    const oldObject = big();
    oldObject.metadata!.annotations = { blob: 'y'.repeat(1536 * 1024) };
    const body = reviewFor(object, { namespace: 'marketing', operation: 'UPDATE', oldObject });
    const res = await request(app).post('/validate').send(body).expect(200);
    expect(res.body.response.allowed).toBe(true);
  });

  it('answers an empty body with 400', async () => {
    const { app } = await start();
    const res = await request(app).post('/validate').set('Content-Type', 'application/json').expect(400);
    expect(res.body).toEqual({ code: 'INVALID_REVIEW', message: 'request body is empty; send an AdmissionReview as JSON' });
  });

  it('answers other content types with 415', async () => {
    const { app } = await start();
    await request(app).post('/validate').set('Content-Type', 'text/plain').send('hello').expect(415);
  });

  it('answers 500 when the record cannot be written', async () => {
    const failing = { append: () => Promise.reject(new Error('disk full')) };
    const testApp = await start({ sink: failing });
    const res = await request(testApp.app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'patient-records' })).expect(500);
    expect(res.body).toEqual({ code: 'RECORD_WRITE_FAILED', message: 'decision record could not be written' });
    expect(testApp.logLines.some((line) => line.level === 50 && line.msg === 'decision record not written; responding 500 so the failure policy applies')).toBe(true);
  });
});

describe('records', () => {
  it('records every decision in a chain without object bodies', async () => {
    const testApp = await start();
    const { app, recordsPath } = testApp;
    await request(app).post('/mutate').send(reviewFor(replicaSetPod(), { namespace: 'patient-records' }));
    await request(app).post('/validate').send(reviewFor(replicaSetPod(), { namespace: 'patient-records', dryRun: true }));
    await request(app).post('/validate').send(reviewFor(injectedPod(), { namespace: 'marketing' }));

    const records = await readRecords(recordsPath);
    expect(records.map((record) => record.decision)).toEqual(['mutate', 'deny', 'allow']);
    expect(records[1]).toMatchObject({ dryRun: true });
    expect(records[0]!.patch).toEqual([
      { op: 'add', path: '/metadata/labels/phi-mesh-guard.io~1phi', value: 'true' },
      { op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'true' },
    ]);
    expect(await verifyChain([recordsPath])).toMatchObject({ ok: true, records: 3 });

    const stored = await readFile(recordsPath, 'utf8');
    const logged = JSON.stringify(testApp.logLines.filter((line) => line.level === 30));
    for (const text of [stored, logged]) {
      expect(text).not.toContain('secretKeyRef');
      expect(text).not.toContain('registry.example.org');
      expect(text).not.toContain('DB_PASSWORD');
    }
    expect(testApp.logLines.filter((line) => line.msg === 'decision')).toHaveLength(3);
  });
});

describe('object hash', () => {
  it('hashes the object bytes as sent', async () => {
    const { app, recordsPath } = await start();
    const object = injectedPod();
    const objectText = JSON.stringify(object, null, 2);
    const review = reviewFor(object, { namespace: 'marketing' });
    (review.request as Record<string, unknown>).object = 'OBJECT-PLACEHOLDER';
    const bodyText = JSON.stringify(review).replace('"OBJECT-PLACEHOLDER"', objectText);

    await request(app).post('/validate').set('Content-Type', 'application/json').send(bodyText).expect(200);
    const [record] = await readRecords(recordsPath);
    expect(record!.objectSha256).toBe(createHash('sha256').update(objectText).digest('hex'));
    expect(record!.objectSha256).not.toBe(createHash('sha256').update(JSON.stringify(object)).digest('hex'));
  });

  it('hashes the old object of a DELETE', async () => {
    const { app, recordsPath } = await start();
    const body = reviewFor(null, { operation: 'DELETE', oldObject: namespace('marketing'), name: 'marketing' });
    await request(app).post('/validate').send(body).expect(200);
    const [record] = await readRecords(recordsPath);
    expect(record!.objectSha256).toBe(createHash('sha256').update(JSON.stringify(namespace('marketing'))).digest('hex'));
  });
});

describe('probes', () => {
  it('reports health and readiness', async () => {
    const { app } = await start();
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    await request(app).get('/readyz').expect(200, { status: 'ready' });
    await request(app).get('/nothing').expect(404);
  });
});
