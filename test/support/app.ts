import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { KubeObject } from '../../src/admission/types.js';
import { StaticClusterView } from '../../src/cluster/static-view.js';
import { createLogger } from '../../src/log.js';
import { createMetrics, type GuardMetrics } from '../../src/metrics/metrics.js';
import { DecisionRecorder } from '../../src/records/recorder.js';
import { rules } from '../../src/rules/catalog.js';
import { createApp } from '../../src/server/app.js';
import type { DecisionSink } from '../../src/server/review-handler.js';
import { makeConfig } from './context.js';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  recorder: DecisionRecorder;
  recordsPath: string;
  logLines: Record<string, unknown>[];
  metrics: GuardMetrics;
}

/** The real app with the real rules, a temporary record file, an in-memory log sink and its own metrics registry. */
export async function startTestApp(
  options: { cluster?: KubeObject[]; config?: Record<string, unknown>; sink?: DecisionSink; certificateNotAfter?: () => Date } = {},
): Promise<TestApp> {
  const recordsPath = join(mkdtempSync(join(tmpdir(), 'phi-mesh-guard-app-')), 'decisions.jsonl');
  const config = makeConfig({ ...options.config, records: { path: recordsPath, fsyncIntervalMs: 1 } });
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
  const logger = createLogger('debug', sink);
  const recorder = await DecisionRecorder.open({ path: recordsPath, replica: 'test-0', fsyncIntervalMs: 1 });
  const view = new StaticClusterView(options.cluster ?? []);
  const metrics = createMetrics({ clusterViewSynced: () => view.synced(), ...(options.certificateNotAfter ? { certificateNotAfter: options.certificateNotAfter } : {}) });
  const app = createApp({ config, view, rules, sink: options.sink ?? recorder, logger, metrics, isReady: () => view.synced() });
  return { app, recorder, recordsPath, logLines, metrics };
}
