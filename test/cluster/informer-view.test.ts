import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { startInformerClusterView, type InformerClusterView, type InformerViewOptions } from '../../src/cluster/informer-view.js';
import { createLogger } from '../../src/log.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { waitFor } from './wait-for.js';

const phiLabel = { 'phi-mesh-guard.io/phi': 'true' };

interface Harness {
  fake: FakeApiServer;
  view: InformerClusterView;
  logLines: Record<string, unknown>[];
}

const running: Harness[] = [];

afterEach(async () => {
  for (const harness of running.splice(0)) {
    await harness.view.stop();
    await harness.fake.close();
  }
});

/**
 * Starts a fake API server, lets `seed` fill it, then starts a view against it with
 * short delays. `editKubeConfig` may change the KubeConfig that points at the fake.
 */
async function startHarness(
  seed: (fake: FakeApiServer) => void = () => {},
  options: Partial<InformerViewOptions> = {},
  editKubeConfig: (kubeConfig: KubeConfig) => void = () => {},
): Promise<Harness> {
  const fake = await FakeApiServer.start();
  seed(fake);
  const kubeConfig = fake.kubeConfig();
  editKubeConfig(kubeConfig);
  const logLines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      callback();
    },
  });
  const view = await startInformerClusterView({
    kubeConfig,
    logger: createLogger('debug', sink),
    rootNamespace: 'istio-system',
    retryInitialMs: 20,
    retryMaxMs: 100,
    crdRecheckMs: 100,
    ...options,
  });
  const harness = { fake, view, logLines };
  running.push(harness);
  return harness;
}

/**
 * Starts a harness and waits for the first sync and for the watches to be open on
 * the server, so that changes made next reach the client through a watch.
 */
async function startSynced(seed: (fake: FakeApiServer) => void = () => {}, options: Partial<InformerViewOptions> = {}, policyWatch = true): Promise<Harness> {
  const harness = await startHarness(seed, options);
  const { fake, view } = harness;
  await waitFor('the first sync', () => view.synced());
  await waitFor('open watches', () => fake.openWatchCount('namespaces') === 1 && fake.openWatchCount('peerauthentications') === (policyWatch ? 1 : 0));
  return harness;
}

function messages(harness: Harness, level?: number): string[] {
  return harness.logLines.filter((line) => level === undefined || line.level === level).map((line) => String(line.msg));
}

const warn = 40;

describe('InformerClusterView events', () => {
  it.each([
    {
      name: 'namespace added',
      seed: () => {},
      change: (fake: FakeApiServer) => fake.putNamespace('billing', phiLabel),
      reached: (view: InformerClusterView) => view.namespace('billing') !== undefined,
      check: (view: InformerClusterView) => expect(view.namespace('billing')?.labels['phi-mesh-guard.io/phi']).toBe('true'),
    },
    {
      name: 'namespace label removed',
      seed: (fake: FakeApiServer) => fake.putNamespace('billing', phiLabel),
      change: (fake: FakeApiServer) => fake.putNamespace('billing', {}),
      reached: (view: InformerClusterView) => view.namespace('billing')?.labels['phi-mesh-guard.io/phi'] === undefined,
      check: (view: InformerClusterView) => expect(view.namespace('billing')?.labels).toEqual({ 'kubernetes.io/metadata.name': 'billing' }),
    },
    {
      name: 'namespace deleted',
      seed: (fake: FakeApiServer) => fake.putNamespace('billing', phiLabel),
      change: (fake: FakeApiServer) => fake.deleteNamespace('billing'),
      reached: (view: InformerClusterView) => view.namespace('billing') === undefined,
      check: (view: InformerClusterView) => expect([...view.namespaces()].map((info) => info.name)).toEqual(['default']),
    },
    {
      name: 'policy added',
      seed: () => {},
      change: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' }),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing') !== undefined,
      check: (view: InformerClusterView) =>
        expect(view.scopePeerAuthentication('billing')).toEqual({ namespace: 'billing', name: 'default', mode: 'STRICT', creationTimestamp: '2026-02-01T00:00:00Z' }),
    },
    {
      name: 'policy mode changed',
      seed: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' }),
      change: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'PERMISSIVE' }),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing')?.mode === 'PERMISSIVE',
      check: (view: InformerClusterView) => expect(view.scopePeerAuthentication('billing')?.name).toBe('default'),
    },
    {
      name: 'policy without mtls',
      seed: () => {},
      change: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default' }),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing') !== undefined,
      check: (view: InformerClusterView) => expect(view.scopePeerAuthentication('billing')?.mode).toBe('UNSET'),
    },
    {
      name: 'policy deleted',
      seed: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' }),
      change: (fake: FakeApiServer) => fake.deletePeerAuthentication('billing', 'default'),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing') === undefined,
      check: (view: InformerClusterView) => expect(view.scopePeerAuthentication('billing')).toBeUndefined(),
    },
    {
      name: 'selector added to policy',
      seed: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' }),
      change: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT', matchLabels: { app: 'api' } }),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing') === undefined,
      check: (view: InformerClusterView) => expect(view.scopePeerAuthentication('billing')).toBeUndefined(),
    },
    {
      name: 'empty matchLabels policy',
      seed: () => {},
      change: (fake: FakeApiServer) => fake.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'DISABLE', matchLabels: {} }),
      reached: (view: InformerClusterView) => view.scopePeerAuthentication('billing') !== undefined,
      check: (view: InformerClusterView) => expect(view.scopePeerAuthentication('billing')?.mode).toBe('DISABLE'),
    },
  ])('$name', async ({ seed, change, reached, check }) => {
    const { fake, view } = await startSynced((server) => {
      server.putNamespace('default');
      seed(server);
    });

    change(fake);
    await waitFor('the change to reach the view', () => reached(view));

    check(view);
    expect(view.synced()).toBe(true);
  });

  it('workload policy not kept', async () => {
    const { fake, view } = await startSynced();

    fake.putPeerAuthentication({ namespace: 'billing', name: 'api-only', mode: 'DISABLE', matchLabels: { app: 'api' } });
    fake.putPeerAuthentication({ namespace: 'billing', name: 'marker', mode: 'STRICT' });
    await waitFor('the later policy', () => view.scopePeerAuthentication('billing') !== undefined);

    expect(view.scopePeerAuthentication('billing')?.name).toBe('marker');
  });
});

describe('InformerClusterView oldest policy', () => {
  it('oldest of two wins', async () => {
    const { fake, view } = await startSynced((server) => {
      server.putPeerAuthentication({ namespace: 'billing', name: 'newer', mode: 'PERMISSIVE', creationTimestamp: '2026-03-02T00:00:00Z' });
      server.putPeerAuthentication({ namespace: 'billing', name: 'older', mode: 'STRICT', creationTimestamp: '2026-03-01T00:00:00Z' });
    });

    expect(view.scopePeerAuthentication('billing')?.name).toBe('older');
    expect(view.scopePeerAuthentication('billing')?.mode).toBe('STRICT');

    fake.deletePeerAuthentication('billing', 'older');
    await waitFor('the older policy to go', () => view.scopePeerAuthentication('billing')?.name === 'newer');
    expect(view.scopePeerAuthentication('billing')?.mode).toBe('PERMISSIVE');
  });

  it('same creation time picks first name', async () => {
    const { view } = await startSynced((server) => {
      server.putPeerAuthentication({ namespace: 'istio-system', name: 'zeta', mode: 'PERMISSIVE', creationTimestamp: '2026-03-01T00:00:00Z' });
      server.putPeerAuthentication({ namespace: 'istio-system', name: 'alpha', mode: 'STRICT', creationTimestamp: '2026-03-01T00:00:00Z' });
    });

    expect(view.scopePeerAuthentication('istio-system')?.name).toBe('alpha');
  });
});

describe('InformerClusterView recovery', () => {
  it.each([
    { name: 'HTTP 410 on watch', expire: (fake: FakeApiServer) => fake.failNextWatches('namespaces', 410) },
    { name: 'ERROR 410 event', expire: (fake: FakeApiServer) => fake.compact('namespaces', false) },
  ])('$name relists', async ({ expire }) => {
    const { fake, view } = await startSynced((server) => {
      server.putNamespace('billing', phiLabel);
      server.putNamespace('claims', phiLabel);
    });
    expect(fake.countRequests('namespaces', false)).toBe(1);

    // The changes land while no watch is open, so only a new list can show them.
    fake.endWatches('namespaces');
    fake.deleteNamespace('claims');
    fake.putNamespace('pharmacy', phiLabel);
    fake.putNamespace('billing', {});
    expire(fake);
    await waitFor('the relist', () => view.namespace('pharmacy') !== undefined && view.namespace('claims') === undefined);

    expect(fake.countRequests('namespaces', false)).toBe(2);
    expect(view.namespace('billing')?.labels['phi-mesh-guard.io/phi']).toBeUndefined();
    expect(view.synced()).toBe(true);
  });

  it('410 on open watch relists policies', async () => {
    const { fake, view } = await startSynced((server) => {
      server.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' });
    });

    fake.expireOpenWatches('peerauthentications');
    fake.deletePeerAuthentication('billing', 'default');
    await waitFor('the deleted policy to go', () => view.scopePeerAuthentication('billing') === undefined);

    expect(fake.countRequests('peerauthentications', false)).toBe(2);
  });

  it('clean watch end resumes without list', async () => {
    const { fake, view } = await startSynced((server) => server.putNamespace('billing'));
    const watchesBefore = fake.countRequests('namespaces', true);

    fake.endWatches('namespaces');
    fake.putNamespace('claims');
    await waitFor('the missed event', () => view.namespace('claims') !== undefined);

    expect(fake.countRequests('namespaces', true)).toBe(watchesBefore + 1);
    expect(fake.countRequests('namespaces', false)).toBe(1);
  });

  it('watch error retries with backoff', async () => {
    const { fake, view, logLines } = await startSynced((server) => server.putNamespace('billing'));

    fake.failNextWatches('namespaces', 500, 500);
    fake.endWatches('namespaces');
    fake.putNamespace('claims');
    await waitFor('the retried watch', () => view.namespace('claims') !== undefined);

    const retries = logLines.filter((line) => line.msg === 'list or watch failed; retrying');
    expect(retries.map((line) => line.attempt)).toEqual([1, 2]);
    expect(retries[0]).toMatchObject({ resource: 'namespaces', error: { statusCode: 500 } });
    expect(logLines.some((line) => line.msg === 'watch reconnected')).toBe(true);
  });

  it.each([
    { name: 'namespace list', kind: 'namespaces' as const, message: 'list of namespaces timed out after 200 ms' },
    { name: 'policy list', kind: 'peerauthentications' as const, message: 'list of peerauthentications timed out after 200 ms' },
    { name: 'discovery', kind: 'discovery' as const, message: 'GET /apis/security.istio.io timed out after 200 ms' },
  ])('$name timeout retried', async ({ kind, message }) => {
    const { fake, view, logLines } = await startHarness((server) => server.stall(kind, true), { requestTimeoutMs: 200 });

    await waitFor('the timeout', () => logLines.some((line) => (line.error as { message?: string } | undefined)?.message === message));
    expect(view.synced()).toBe(false);
    await waitFor('the abandoned request to close', () => fake.stalledRequestCount() === 0);

    fake.stall(kind, false);
    await waitFor('the first sync', () => view.synced());
  });

  it('failing credential plugin retried', async () => {
    // `false` exits 1 without output, so every request fails before it is sent.
    const failingPlugin = { command: 'false', args: [], apiVersion: 'client.authentication.k8s.io/v1' };
    const { fake, view, logLines } = await startHarness(
      () => {},
      {},
      (kubeConfig) => {
        kubeConfig.users = [{ name: 'fake-user', exec: failingPlugin }];
      },
    );

    const failures = () => logLines.filter((line) => line.msg === 'list or watch failed; retrying' && line.resource === 'namespaces');
    await waitFor('two failed attempts', () => failures().length >= 2);

    expect(failures()[0]).toMatchObject({ attempt: 1, error: { message: 'Error without a message' } });
    expect(view.synced()).toBe(false);
    expect(fake.countRequests('namespaces')).toBe(0);
  });

  it('list pages followed', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const { fake, view } = await startSynced((server) => names.forEach((name) => server.putNamespace(name)), { listPageSize: 2 });

    expect([...view.namespaces()].map((info) => info.name).sort()).toEqual(names);
    const lists = fake.requests.filter((request) => request.path === '/api/v1/namespaces' && !request.watch);
    expect(lists.map((request) => [request.limit, request.continueToken])).toEqual([
      ['2', undefined],
      ['2', '2'],
      ['2', '4'],
    ]);
  });
});

describe('InformerClusterView readiness', () => {
  it('not synced until first lists', async () => {
    const { fake, view } = await startHarness((server) => {
      server.putNamespace('billing', phiLabel);
      server.setUnavailable(true);
    });

    expect(view.synced()).toBe(false);
    await waitFor('a failed first list', () => fake.countRequests('namespaces', false) >= 2);
    expect(view.synced()).toBe(false);
    expect(view.namespace('billing')).toBeUndefined();

    fake.setUnavailable(false);
    await waitFor('the first sync', () => view.synced());
    expect(view.namespace('billing')?.labels['phi-mesh-guard.io/phi']).toBe('true');
  });

  it('stale after staleness threshold', async () => {
    const stalenessMs = 1_000;
    const { fake, view, logLines } = await startSynced((server) => server.putNamespace('billing'), { stalenessMs });

    fake.setUnavailable(true);
    await waitFor('the first failure', () => logLines.some((line) => line.msg === 'list or watch failed; retrying'));
    const failedAt = Date.now();
    expect(view.synced()).toBe(true);

    await waitFor('staleness', () => !view.synced(), 5_000);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(stalenessMs - 50);
    expect(view.namespace('billing')).toBeDefined();

    fake.setUnavailable(false);
    await waitFor('the recovery', () => view.synced());
  });

  it('hanging reconnect turns stale', async () => {
    const { fake, view, logLines } = await startSynced((server) => server.putNamespace('billing'), { stalenessMs: 300, requestTimeoutMs: 1_500 });
    const failures = () => logLines.filter((line) => line.msg === 'list or watch failed; retrying');

    fake.stall('namespaces', true);
    fake.endWatches('namespaces');
    await waitFor('staleness', () => !view.synced());
    expect(failures()).toEqual([]);

    fake.stall('namespaces', false);
    await waitFor('the watch timeout', () => failures().length === 1);
    expect(String((failures()[0]?.error as { message?: string }).message)).toMatch(/^network timeout at: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\?watch=true/);
    await waitFor('the recovery', () => view.synced());
  });

  it('stop aborts a pending list', async () => {
    const { fake, view } = await startHarness((server) => server.stall('namespaces', true));
    await waitFor('the pending list', () => fake.stalledRequestCount() === 1);

    await view.stop();

    await waitFor('the list to close', () => fake.stalledRequestCount() === 0);
  });

  it('stop closes watches', async () => {
    const { fake, view } = await startSynced();

    await view.stop();

    await waitFor('the watches to close', () => fake.openWatchCount('namespaces') === 0 && fake.openWatchCount('peerauthentications') === 0);
    expect(view.synced()).toBe(false);
  });
});

describe('InformerClusterView PeerAuthentication CRD', () => {
  const missingMessage = 'PeerAuthentication CRD not installed; treating PeerAuthentications as absent until it appears';

  it('missing CRD warns once', async () => {
    const { fake, view, logLines } = await startSynced(
      (server) => {
        server.putNamespace('billing', phiLabel);
        server.removePeerAuthenticationCrd();
      },
      {},
      false,
    );

    expect(view.namespace('billing')).toBeDefined();
    expect(view.scopePeerAuthentication('istio-system')).toBeUndefined();
    await waitFor('two rechecks', () => fake.countRequests('discovery') >= 3);
    expect(messages({ fake, view, logLines }).filter((message) => message === missingMessage)).toHaveLength(1);
    expect(logLines.find((line) => line.msg === missingMessage)).toMatchObject({ level: warn, group: 'security.istio.io', recheckMs: 100 });
    expect(fake.countRequests('peerauthentications')).toBe(0);
    expect(view.synced()).toBe(true);

    fake.installPeerAuthenticationCrd();
    fake.putPeerAuthentication({ namespace: 'istio-system', name: 'default', mode: 'STRICT' });
    await waitFor('the new CRD', () => view.scopePeerAuthentication('istio-system')?.mode === 'STRICT');
    expect(messages({ fake, view, logLines })).toContain('PeerAuthentication CRD found; watching PeerAuthentications');
    expect(view.synced()).toBe(true);
  });

  it('removed CRD clears policies', async () => {
    const harness = await startSynced((server) => {
      server.putPeerAuthentication({ namespace: 'istio-system', name: 'default', mode: 'STRICT' });
    });
    const { fake, view } = harness;
    expect(view.scopePeerAuthentication('istio-system')?.mode).toBe('STRICT');

    fake.removePeerAuthenticationCrd();
    await waitFor('the missing CRD warning', () => messages(harness, warn).includes(missingMessage));
    expect(view.scopePeerAuthentication('istio-system')).toBeUndefined();
    expect(view.synced()).toBe(true);

    fake.installPeerAuthenticationCrd();
    fake.putPeerAuthentication({ namespace: 'istio-system', name: 'default', mode: 'PERMISSIVE' });
    await waitFor('the reinstalled CRD', () => view.scopePeerAuthentication('istio-system')?.mode === 'PERMISSIVE');
  });

  it('group without PeerAuthentication counts as missing', async () => {
    const harness = await startSynced((server) => server.setPeerAuthenticationServed(false), {}, false);
    const { fake, view } = harness;

    expect(view.scopePeerAuthentication('istio-system')).toBeUndefined();
    await waitFor('two rechecks', () => fake.countRequests('peerauthentications') >= 2);
    expect(messages(harness, warn)).toEqual([missingMessage]);

    fake.setPeerAuthenticationServed(true);
    fake.putPeerAuthentication({ namespace: 'istio-system', name: 'default', mode: 'STRICT' });
    await waitFor('the served resource', () => view.scopePeerAuthentication('istio-system')?.mode === 'STRICT');
  });

  it.each([
    { name: 'preferred v1beta1', versions: ['v1', 'v1beta1'], preferred: 'v1beta1', watched: 'v1beta1' },
    { name: 'no preferred, v1 served', versions: ['v1beta1', 'v1'], preferred: null, watched: 'v1' },
    { name: 'no preferred, only v1beta1', versions: ['v1beta1'], preferred: null, watched: 'v1beta1' },
  ])('$name', async ({ versions, preferred, watched }) => {
    const { fake, view } = await startSynced((server) => {
      server.installPeerAuthenticationCrd({ versions, preferredVersion: preferred });
      server.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' });
    });

    expect(view.scopePeerAuthentication('billing')?.mode).toBe('STRICT');
    const policyPaths = new Set(fake.requests.filter((request) => request.path.endsWith('/peerauthentications')).map((request) => request.path));
    expect([...policyPaths]).toEqual([`/apis/security.istio.io/${watched}/peerauthentications`]);
  });
});

describe('InformerClusterView data kept', () => {
  it('no annotation values kept or logged', async () => {
    const secret = 'annotation-value-that-must-not-leak';
    const harness = await startSynced((server) => {
      server.putNamespace('billing', phiLabel, { 'example.com/note': secret });
      server.putPeerAuthentication({ namespace: 'billing', name: 'default', mode: 'STRICT' });
    });
    const { fake, view, logLines } = harness;
    fake.putNamespace('claims', {}, { 'example.com/note': secret });
    fake.failNextWatches('namespaces', 500);
    fake.endWatches('namespaces');
    await waitFor('the retried watch', () => view.namespace('claims') !== undefined && fake.openWatchCount('namespaces') === 1);

    expect(JSON.stringify([...view.namespaces()])).not.toContain(secret);
    expect(Object.keys(view.namespace('billing') ?? {})).toEqual(['name', 'labels']);
    expect(Object.keys(view.scopePeerAuthentication('billing') ?? {})).toEqual(['namespace', 'name', 'mode', 'creationTimestamp']);
    expect(JSON.stringify(logLines)).not.toContain(secret);
    expect(JSON.stringify(logLines)).not.toContain('fake-token');
  });
});
