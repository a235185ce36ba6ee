// Engine benchmark: evaluation alone (contextFromRequest and evaluate with the real rule
// catalog, on reviews parsed beforehand, no HTTP), its cost against object size, the
// whole review handler without HTTP, and the offline `check` command over 10,000
// manifests. It runs the production build in dist/. See docs/benchmarks.md.
//
// Usage: npm run bench:engine -- [--quick]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import {
  authorizationPolicy,
  clusterState,
  deployment,
  destinationRule,
  peerAuthentication,
  pod,
  replicaSet,
  review,
  sizedDeployment,
  sizedPod,
} from './fixtures.mjs';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (path) => join(repoRoot, 'dist', path);

const { values: options } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  strict: true,
});
if (options.help) {
  process.stdout.write('Usage: npm run bench:engine -- [--quick]\n\n  --quick   fewer iterations and one check run instead of three\n');
  process.exit(0);
}

const { parseReview } = await import(dist('admission/review.js'));
const { contextFromRequest } = await import(dist('engine/request-context.js'));
const { evaluate } = await import(dist('engine/evaluate.js'));
const { rules } = await import(dist('rules/catalog.js'));
const { defaultConfig } = await import(dist('config/schema.js'));
const { StaticClusterView } = await import(dist('cluster/static-view.js'));
const { handleReview } = await import(dist('server/review-handler.js'));
const { createLogger } = await import(dist('log.js'));
const { createMetrics } = await import(dist('metrics/metrics.js'));

const config = defaultConfig();
const view = new StaticClusterView(clusterState);

const medianTargetMicros = 50;
const checkObjects = 10_000;
const checkTargetSeconds = 5;

/**
 * Times `run` once per iteration after a warm-up and returns the median and p99 in
 * microseconds. Iterations stop at `maxIterations` or after `budgetMs`, whichever
 * comes first, so large objects take fewer.
 */
function timeEach(run, { warmUp = options.quick ? 500 : 2000, maxIterations = options.quick ? 5000 : 20000, budgetMs = options.quick ? 1000 : 3000 } = {}) {
  const warmUpEnd = performance.now() + budgetMs / 4;
  for (let i = 0; i < warmUp && performance.now() < warmUpEnd; i += 1) {
    run();
  }
  const samples = new Float64Array(maxIterations);
  const end = performance.now() + budgetMs;
  let count = 0;
  while (count < maxIterations && (count < 20 || performance.now() < end)) {
    const start = performance.now();
    run();
    samples[count] = (performance.now() - start) * 1000;
    count += 1;
  }
  const sorted = samples.subarray(0, count).sort();
  const percentile = (p) => sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)];
  return { iterations: count, medianMicros: percentile(50), p99Micros: percentile(99) };
}

function evaluationRun(body, endpoint) {
  const parsed = parseReview(body);
  if (!parsed.ok) {
    throw new Error(`benchmark review is unusable: ${parsed.problem}`);
  }
  const check = evaluate(contextFromRequest(parsed.request, endpoint, config, view), rules);
  if (check.decision !== 'allow' && check.decision !== 'mutate') {
    throw new Error(`benchmark review got ${check.decision}: ${JSON.stringify(check.violations)}`);
  }
  return () => evaluate(contextFromRequest(parsed.request, endpoint, config, view), rules);
}

function printTable(header, rows, widths) {
  const format = (cells) => cells.map((cell, index) => (index === 0 ? String(cell).padEnd(widths[0]) : String(cell).padStart(widths[index]))).join('  ');
  console.log(format(header));
  for (const row of rows) {
    console.log(format(row));
  }
}

const deploymentUpdate = () => {
  const object = deployment();
  object.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'] = '2026-03-09T07:15:41Z';
  return review(object, { operation: 'UPDATE', oldObject: deployment() });
};
const evaluationCases = [
  { name: 'Pod CREATE /validate (injected)', endpoint: 'validate', body: review(pod({ injected: true })), pod: true },
  { name: 'Pod CREATE /mutate', endpoint: 'mutate', body: review(pod({ injected: false })), pod: true },
  { name: 'ReplicaSet CREATE', endpoint: 'validate', body: review(replicaSet()) },
  { name: 'Deployment UPDATE', endpoint: 'validate', body: deploymentUpdate() },
  { name: 'PeerAuthentication CREATE', endpoint: 'validate', body: review(peerAuthentication()) },
  { name: 'AuthorizationPolicy CREATE', endpoint: 'validate', body: review(authorizationPolicy()) },
  { name: 'DestinationRule CREATE', endpoint: 'validate', body: review(destinationRule()) },
  { name: 'Deployment CREATE 1.5 MiB', endpoint: 'validate', body: review(sizedDeployment(1.5 * 1024 * 1024)) },
];

const report = {
  command: `npm run bench:engine${options.quick ? ' -- --quick' : ''}`,
  time: new Date().toISOString(),
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: loadavg().map((value) => Number(value.toFixed(2))) },
  evaluation: [],
  sizes: [],
  handler: [],
  check: null,
  targets: [],
};
console.log(`phi-mesh-guard engine benchmark: ${report.machine.cores} cores, ${report.machine.cpu}, Node.js ${report.machine.node}, load average ${report.machine.loadAverage.join(' ')}`);

console.log('\nEvaluation alone (contextFromRequest + evaluate, all rules), per review');
for (const testCase of evaluationCases) {
  const result = timeEach(evaluationRun(testCase.body, testCase.endpoint));
  report.evaluation.push({ name: testCase.name, objectBytes: JSON.stringify(testCase.body.request.object).length, ...result });
}
printTable(
  ['review', 'object KiB', 'median µs', 'p99 µs', 'iterations'],
  report.evaluation.map((row) => [row.name, (row.objectBytes / 1024).toFixed(1), row.medianMicros.toFixed(1), row.p99Micros.toFixed(1), row.iterations]),
  [32, 10, 10, 10, 10],
);

console.log('\nEvaluation against object size (injected Pod to /validate, more containers as it grows)');
for (const kib of [1, 4, 16, 64, 256, 1024, 1536]) {
  const object = sizedPod(kib * 1024);
  const result = timeEach(evaluationRun(review(object), 'validate'));
  report.sizes.push({ kib, containers: object.spec.containers.length, ...result, microsPerKib: result.medianMicros / kib });
}
printTable(
  ['object KiB', 'containers', 'median µs', 'p99 µs', 'µs per KiB'],
  report.sizes.map((row) => [row.kib, row.containers, row.medianMicros.toFixed(1), row.p99Micros.toFixed(1), row.microsPerKib.toFixed(2)]),
  [10, 10, 10, 10, 10],
);
const slope = logLogSlope(report.sizes.filter((row) => row.kib >= 16));
console.log(`Growth exponent from 16 KiB up (slope of log time against log size; 1 is linear): ${slope.toFixed(2)}`);

console.log('\nWhole review handler without HTTP: parse envelope, evaluate, hash object, build record, log at info to /dev/null');
{
  // Synchronous writes, as pino's default destination (standard output) makes them.
  const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
  const sink = { append: () => Promise.resolve({}) };
  const withoutMetrics = { config, view, rules, sink, logger };
  const withMetrics = { ...withoutMetrics, metrics: createMetrics({ processMetrics: false }) };
  for (const testCase of evaluationCases.slice(0, 2)) {
    const text = JSON.stringify(testCase.body);
    const plain = await timeHandler(text, testCase.endpoint, withoutMetrics);
    const instrumented = await timeHandler(text, testCase.endpoint, withMetrics);
    const parse = timeEach(() => JSON.parse(text));
    report.handler.push({
      name: testCase.name,
      medianMicros: instrumented.medianMicros,
      p99Micros: instrumented.p99Micros,
      withoutMetricsMedianMicros: plain.medianMicros,
      jsonParseMedianMicros: parse.medianMicros,
    });
  }
  printTable(
    ['review', 'median µs', 'p99 µs', 'no metrics µs', 'JSON.parse µs'],
    report.handler.map((row) => [row.name, row.medianMicros.toFixed(1), row.p99Micros.toFixed(1), row.withoutMetricsMedianMicros.toFixed(1), row.jsonParseMedianMicros.toFixed(1)]),
    [32, 10, 10, 14, 14],
  );
  console.log('JSON.parse of the body runs in the body parser before the handler, in the guard and the baseline alike.');
}

console.log(`\nOffline check of ${checkObjects} objects: node dist/cli/main.js check -f DIR -o json > /dev/null, start-up included`);
{
  const workDir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-check-bench-'));
  try {
    const files = writeCheckManifests(workDir, checkObjects);
    const runs = [];
    for (let i = 0; i < (options.quick ? 1 : 3); i += 1) {
      runs.push(await timeCheck(workDir));
    }
    const seconds = runs.map((run) => run.seconds).sort((a, b) => a - b);
    report.check = { objects: checkObjects, files, runs, medianSeconds: seconds[seconds.length >> 1] };
    console.log(`${files} files; wall time per run: ${runs.map((run) => `${run.seconds.toFixed(2)} s (exit ${run.exitCode})`).join(', ')}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

const podRows = report.evaluation.filter((row, index) => evaluationCases[index].pod);
report.targets = [
  {
    name: `median evaluation of a Pod review <= ${medianTargetMicros} µs`,
    met: podRows.every((row) => row.medianMicros <= medianTargetMicros),
    detail: podRows.map((row) => `${row.name} ${row.medianMicros.toFixed(1)} µs`).join(', '),
  },
  { name: 'evaluation grows no worse than linearly with object size', met: slope <= 1.15, detail: `exponent ${slope.toFixed(2)} from 16 KiB to 1.5 MiB` },
  {
    name: `check of ${checkObjects} objects <= ${checkTargetSeconds} s`,
    met: report.check.medianSeconds <= checkTargetSeconds,
    detail: `median ${report.check.medianSeconds.toFixed(2)} s`,
  },
];
console.log('\nTargets');
for (const target of report.targets) {
  console.log(`  ${(target.met ? 'MET' : 'MISSED').padEnd(10)} ${target.name}: ${target.detail}`);
}

const resultsDir = join(repoRoot, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const resultsFile = join(resultsDir, 'engine-latest.json');
writeFileSync(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nWrote ${resultsFile}`);

/** Times handleReview on freshly parsed copies of `text`, as the body parser hands them over. */
async function timeHandler(text, endpoint, deps) {
  const bodies = Array.from({ length: 64 }, () => JSON.parse(text));
  const sampleCount = options.quick ? 2000 : 10000;
  for (let i = 0; i < 1000; i += 1) {
    await handleReview(bodies[i % bodies.length], endpoint, deps);
  }
  const samples = new Float64Array(sampleCount);
  for (let i = 0; i < sampleCount; i += 1) {
    const body = bodies[i % bodies.length];
    const start = performance.now();
    await handleReview(body, endpoint, deps);
    samples[i] = (performance.now() - start) * 1000;
  }
  samples.sort();
  return { medianMicros: samples[sampleCount >> 1], p99Micros: samples[Math.ceil(sampleCount * 0.99) - 1] };
}

/** Least-squares slope of log(median) against log(size). */
function logLogSlope(rows) {
  const xs = rows.map((row) => Math.log(row.kib));
  const ys = rows.map((row) => Math.log(row.medianMicros));
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = ys.reduce((a, b) => a + b, 0) / ys.length;
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < xs.length; i += 1) {
    numerator += (xs[i] - meanX) * (ys[i] - meanY);
    denominator += (xs[i] - meanX) ** 2;
  }
  return numerator / denominator;
}

/**
 * Writes `count` objects, one file each, across 50 namespaces: half of them PHI, each
 * with a Namespace, Deployments, Services, ConfigMaps and Istio policies. Returns the
 * number of files.
 */
function writeCheckManifests(root, count) {
  const namespaces = 50;
  const perNamespace = Math.ceil(count / namespaces);
  let written = 0;
  for (let n = 0; n < namespaces && written < count; n += 1) {
    const name = `team-${String(n).padStart(2, '0')}`;
    const phi = n % 2 === 0;
    const folder = join(root, name);
    mkdirSync(folder);
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: phi ? { 'phi-mesh-guard.io/phi': 'true', 'istio-injection': 'enabled' } : {} } },
      retarget(peerAuthentication(), name),
      retarget(authorizationPolicy(), name),
    ];
    for (let i = 0; objects.length < perNamespace; i += 1) {
      const app = `service-${i}`;
      const workload = retarget(deployment(app), name);
      workload.spec.template.metadata.labels['sidecar.istio.io/inject'] = 'true';
      const rule = retarget(destinationRule(), name);
      rule.metadata.name = app;
      rule.spec.host = `${app}.${name}.svc.cluster.local`;
      objects.push(
        workload,
        { apiVersion: 'v1', kind: 'Service', metadata: { name: app, namespace: name }, spec: { selector: { app }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${app}-settings`, namespace: name }, data: { 'settings.yaml': 'logLevel: info\nfeatureFlags:\n  newCharts: true\n' } },
        rule,
      );
    }
    for (const object of objects.slice(0, Math.min(perNamespace, count - written))) {
      writeFileSync(join(folder, `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`), toYaml(object, { aliasDuplicateObjects: false }));
      written += 1;
    }
  }
  return written;
}

function retarget(object, namespace) {
  object.metadata.namespace = namespace;
  if (object.kind === 'AuthorizationPolicy') {
    object.spec.rules[0].from[0].source.principals = [`cluster.local/ns/${namespace}/sa/records-gateway`];
  }
  if (object.kind === 'DestinationRule') {
    object.spec.host = `records-api.${namespace}.svc.cluster.local`;
  }
  return object;
}

function timeCheck(folder) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [dist('cli/main.js'), 'check', '-f', folder, '-o', 'json'], {
      cwd: repoRoot,
      stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      const seconds = (performance.now() - start) / 1000;
      if (exitCode !== 0 && exitCode !== 1) {
        reject(new Error(`check exited with ${exitCode}; it could not evaluate the generated manifests`));
        return;
      }
      resolve({ seconds, exitCode });
    });
  });
}
