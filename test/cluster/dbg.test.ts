import { it } from 'vitest';
import { startInformerClusterView } from '../../src/cluster/informer-view.js';
import { createLogger } from '../../src/log.js';
import { FakeApiServer } from '../support/fake-apiserver.js';
import { waitFor } from './wait-for.js';

it('dbg', async () => {
  const fake = await FakeApiServer.start();
  const view = await startInformerClusterView({ kubeConfig: fake.kubeConfig(), logger: createLogger('debug'), rootNamespace: 'istio-system', retryInitialMs: 20, retryMaxMs: 100 });
  await waitFor('sync', () => view.synced());
  await waitFor('both watches', () => fake.openWatchCount('namespaces') === 1 && fake.openWatchCount('peerauthentications') === 1);
  await view.stop();
  await new Promise((r) => setTimeout(r, 500));
  console.log('open', fake.openWatchCount('namespaces'), fake.openWatchCount('peerauthentications'));
  console.log(fake.requests);
  await fake.close();
});
