import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openClusterView, type OpenedClusterView } from '../../src/cluster/open-view.js';
import { createLogger } from '../../src/log.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { waitFor } from './wait-for.js';

let logLines: Record<string, unknown>[];
let opened: OpenedClusterView | undefined;
let fake: FakeApiServer | undefined;
let folder: string;

const logger = () =>
  createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n').filter((text) => text !== '')) {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        }
        callback();
      },
    }),
  );

beforeEach(() => {
  logLines = [];
  folder = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-open-view-'));
  mkdirSync(join(folder, 'home'));
  vi.stubEnv('HOME', join(folder, 'home'));
  vi.stubEnv('KUBECONFIG', '');
  vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
});

afterEach(async () => {
  await opened?.stop();
  opened = undefined;
  await fake?.close();
  fake = undefined;
  vi.unstubAllEnvs();
});

describe('openClusterView', () => {
  it('cluster-state files', async () => {
    opened = await openClusterView({ statePaths: ['examples/patient-records/compliant/namespace.yaml'], logger: logger(), rootNamespace: 'istio-system' });

    expect(opened.source).toBe('cluster-state');
    expect(opened.view.namespace('patient-records')?.labels['phi-mesh-guard.io/phi']).toBe('true');
    expect(opened.view.synced()).toBe(true);
  });

  it('kubeconfig file starts informers', async () => {
    fake = await FakeApiServer.start();
    fake.putNamespace('claims', { 'phi-mesh-guard.io/phi': 'true' });
    const file = join(folder, 'kubeconfig');
    fake.writeKubeconfig(file);

    opened = await openClusterView({ statePaths: [], kubeconfigFile: file, logger: logger(), rootNamespace: 'istio-system' });
    expect(opened.source).toBe('informers');
    expect(fake.requests).toEqual([]);
    opened.start();

    const { view } = opened;
    await waitFor('the first sync', () => view.synced());
    expect(view.namespace('claims')?.labels['phi-mesh-guard.io/phi']).toBe('true');
    expect(logLines.find((line) => line.msg === 'cluster view from informers')).toMatchObject({ context: 'fake', server: fake.url });
  });

  it('KUBECONFIG found without flag', async () => {
    fake = await FakeApiServer.start();
    const file = join(folder, 'kubeconfig');
    fake.writeKubeconfig(file);
    vi.stubEnv('KUBECONFIG', file);

    opened = await openClusterView({ statePaths: [], logger: logger(), rootNamespace: 'istio-system' });

    expect(opened.source).toBe('informers');
  });

  it('no source warns', async () => {
    opened = await openClusterView({ statePaths: [], logger: logger(), rootNamespace: 'istio-system' });

    expect(opened.source).toBe('none');
    expect([...opened.view.namespaces()]).toEqual([]);
    expect(opened.view.synced()).toBe(true);
    expect(logLines.map((line) => [line.level, line.msg])).toEqual([
      [40, 'no cluster view configured: no kubeconfig or in-cluster service account found and no --cluster-state given, so no namespace is known as PHI'],
    ]);
  });
});
