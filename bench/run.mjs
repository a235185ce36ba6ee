// HTTP benchmark: the guard (production build, records with fdatasync, info logging to
// /dev/null) beside a baseline webhook that admits everything on the same HTTP stack.
// Both run as child processes on 127.0.0.1; autocannon drives them in turn over TLS
// with keep-alive, on the same request bodies. See docs/benchmarks.md.
//
// Usage: npm run bench -- [--quick] [--soak] [--duration SECONDS] [--only SCENARIO]...
// Exits 0 whether or not the targets are met. Exits 1 when the benchmark itself
// cannot run or a server returns an unexpected response to a review.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { clusterState, scenarios, soakRequest } from './fixtures.mjs';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const guardMain = join(repoRoot, 'dist', 'cli', 'main.js');
const resultsDir = join(repoRoot, 'bench', 'results');

const soakReviews = 200_000;
const soakConnections = 16;
const rssTargetMiB = 150;

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    duration: { type: 'string' },
    only: { type: 'string', multiple: true },
    'cpu-prof': { type: 'boolean', default: false },
    'fsync-interval-ms': { type: 'string' },
    'node-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (options.help) {
  process.stdout.write(`Usage: npm run bench -- [options]

  --quick                3-second runs instead of 10-second runs
  --soak                 only send ${soakReviews} Pod reviews at ${soakConnections} connections to each server and report peak RSS
  --duration SECONDS     length of each run (overrides --quick)
  --only SCENARIO        run only this scenario (repeatable): ${scenarios().map((s) => s.id).join(', ')}
  --fsync-interval-ms N  start the guard with records.fsyncIntervalMs N instead of its default
  --node-flags=FLAGS     Node.js flags for both servers, space-separated (default
                         --max-old-space-size=160, as the Deployment sets it;
                         --node-flags= for none)
  --cpu-prof             write a V8 CPU profile of the guard to bench/results/profiles/ when it stops
`);
  process.exit(0);
}

let durationSeconds = options.quick ? 3 : 10;
if (options.duration !== undefined) {
  durationSeconds = Number(options.duration);
}
if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) {
  fail(`--duration must be a positive number of seconds, found "${options.duration}"`);
}
const warmUpSeconds = options.quick ? 1 : 2;
// NOTE: the same heap limit as NODE_OPTIONS in manifests/base/deployment.yaml, so peak
// RSS is measured as deployed. Keep the two in step.
const deploymentNodeFlags = '--max-old-space-size=160';
const nodeFlags = (options['node-flags'] ?? deploymentNodeFlags).split(' ').filter((flag) => flag !== '');

/** Server processes still running, stopped by `fail` so none outlives the benchmark. */
const liveChildren = new Set();

/** Prints the reason, stops the servers and exits 1: the benchmark could not run. */
function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  for (const child of liveChildren) {
    child.kill('SIGTERM');
  }
  process.exit(1);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Memory figures of a process from /proc, in MiB: VmHWM is its peak resident set size. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakRssMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

/** CPU time a process has used so far, in seconds, from /proc/PID/stat (user plus system). */
function cpuSecondsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in brackets may contain spaces, so fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicksPerSecond;
}

// USER_HZ, the unit of /proc/PID/stat times; 100 on Linux on x86-64 and arm64.
const clockTicksPerSecond = 100;

/** Posts one body and resolves with the status and the parsed JSON response body. */
function post(server, path, body) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: server.port, path, method: 'POST', ca: server.ca, servername: 'localhost', headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

function get(server, path) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: server.port, path, ca: server.ca, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.once('error', reject);
    req.end();
  });
}

/** Starts a server process and waits until `readyPath` returns 200. */
async function startServer({ name, args, port, ca, readyPath, workDir }) {
  const stderrFile = join(workDir, `${name}.stderr`);
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: repoRoot,
    // Standard output goes to /dev/null, as a deployment ships logs elsewhere.
    stdio: ['ignore', openSync('/dev/null', 'w'), openSync(stderrFile, 'w')],
    env: { ...withoutGuardVariables(process.env), NODE_ENV: 'production' },
  });
  const server = { name, child, port, ca, exited: false };
  liveChildren.add(child);
  child.once('exit', () => {
    server.exited = true;
    liveChildren.delete(child);
  });

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exited) {
      fail(`${name} exited during start-up: ${readFileSync(stderrFile, 'utf8').trim() || 'no output on stderr'}`);
    }
    const status = await get(server, readyPath).catch(() => undefined);
    if (status === 200) {
      return server;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGTERM');
  fail(`${name} did not respond 200 to GET ${readyPath} within 30 s; see ${stderrFile}`);
}

function withoutGuardVariables(env) {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('PHI_MESH_GUARD_')));
}

async function stopServer(server) {
  if (server.exited) {
    return;
  }
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Checks that every distinct request gets the response the scenario expects, before any load. */
async function verifyAnswers(servers, scenarioList) {
  const problems = [];
  for (const scenario of scenarioList) {
    for (const { endpoint, body, expected } of uniqueRequests(scenario.requests)) {
      for (const server of servers) {
        const { status, body: responseBody } = await post(server, `/${endpoint}`, JSON.stringify(body));
        const response = responseBody?.response ?? {};
        const subject = `${server.name} ${scenario.id} ${body.request.kind.kind} /${endpoint}`;
        if (status !== 200 || response.uid !== body.request.uid || response.allowed !== true) {
          problems.push(`${subject}: HTTP ${status}, body ${JSON.stringify(responseBody).slice(0, 300)}`);
          continue;
        }
        const wantPatch = server.name === 'guard' && expected === 'patch';
        if ((response.patch !== undefined) !== wantPatch || response.warnings !== undefined) {
          problems.push(`${subject}: expected ${wantPatch ? 'a patch' : 'no patch'} and no warnings, got ${JSON.stringify(response).slice(0, 300)}`);
        }
      }
    }
  }
  if (problems.length > 0) {
    fail(`unexpected responses, so the runs would not measure the intended path:\n  ${problems.join('\n  ')}`);
  }
}

function uniqueRequests(requests) {
  return [...new Set(requests)];
}

/** Runs autocannon against one server and returns throughput, latency and error figures. */
async function measure(server, scenario, connections, limit) {
  const latencies = new Float64Array(1 << 16);
  let samples = latencies;
  let count = 0;

  const instance = autocannon({
    url: `https://127.0.0.1:${server.port}`,
    servername: 'localhost',
    connections,
    pipelining: 1,
    timeout: 10,
    ...limit,
    requests: scenario.requests.map(({ endpoint, body }) => ({
      method: 'POST',
      path: `/${endpoint}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })),
  });
  // autocannon's own histogram has 1 ms resolution, too coarse for sub-millisecond
  // responses, so latencies are kept here from its per-response event.
  instance.on('response', (_client, _statusCode, _bytes, responseTimeMs) => {
    if (count === samples.length) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = grown;
    }
    samples[count] = responseTimeMs;
    count += 1;
  });
  const cpuBefore = cpuSecondsOf(server.child.pid);
  const result = await instance;
  const cpuSeconds = cpuSecondsOf(server.child.pid) - cpuBefore;

  const sorted = samples.subarray(0, count).sort();
  const percentile = (p) => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]);
  const memory = memoryOf(server.child.pid);
  return {
    server: server.name,
    scenario: scenario.id,
    connections,
    seconds: result.duration,
    responses: count,
    reviewsPerSecond: result['2xx'] / result.duration,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    maxMs: count === 0 ? NaN : sorted[count - 1],
    serverCpuMicrosPerReview: count === 0 ? NaN : (cpuSeconds / count) * 1e6,
    errors: result.errors + result.non2xx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    peakRssMiB: memory.peakRssMiB,
    rssMiB: memory.rssMiB,
  };
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function formatRow(cells, widths) {
  return cells.map((cell, index) => String(cell).padStart(widths[index])).join('  ');
}

function printScenario(scenario, runs) {
  const bodyBytes = scenario.requests.map(({ body }) => JSON.stringify(body).length);
  const averageKiB = bodyBytes.reduce((sum, bytes) => sum + bytes, 0) / bodyBytes.length / 1024;
  console.log(`\n${scenario.title} [${scenario.id}], average body ${averageKiB.toFixed(1)} KiB`);
  const widths = [5, 8, 10, 8, 8, 8, 7, 9, 8, 6];
  console.log(formatRow(['conns', 'server', 'reviews/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'peak RSS', 'CPU µs', 'ratio'], widths));
  for (const run of runs) {
    const ratio = run.server === 'guard' && run.ratio !== undefined ? run.ratio.toFixed(2) : '';
    console.log(
      formatRow(
        [run.connections, run.server, run.reviewsPerSecond.toFixed(0), run.p50Ms.toFixed(2), run.p99Ms.toFixed(2), run.maxMs.toFixed(1), run.errors, `${run.peakRssMiB.toFixed(0)} MiB`, run.serverCpuMicrosPerReview.toFixed(0), ratio],
        widths,
      ),
    );
  }
}

function findRun(runs, server, scenario, connections) {
  return runs.find((run) => run.server === server && run.scenario === scenario && run.connections === connections);
}

/** Judges each target from the runs; a target whose runs are missing is reported as not measured. */
function judgeTargets(runs, guardReviews, guardPeakRssMiB) {
  const targets = [];
  const judge = (name, measured, met, detail) => targets.push({ name, met: measured ? met : null, detail: measured ? detail : 'not measured in this run' });

  for (const id of ['pod-validate', 'pod-mutate']) {
    const guard = findRun(runs, 'guard', id, 16);
    const baseline = findRun(runs, 'baseline', id, 16);
    const ratio = guard && baseline ? guard.reviewsPerSecond / baseline.reviewsPerSecond : NaN;
    judge(`${id} at 16 connections: guard throughput >= 0.75 x baseline`, Boolean(guard && baseline), ratio >= 0.75, `ratio ${ratio.toFixed(2)}`);
  }
  for (const id of ['pod-validate', 'pod-mutate']) {
    const guard = findRun(runs, 'guard', id, 4);
    const baseline = findRun(runs, 'baseline', id, 4);
    const factor = guard && baseline ? guard.p99Ms / baseline.p99Ms : NaN;
    judge(
      `${id} at 4 connections: guard p99 <= 1.5 x baseline p99`,
      Boolean(guard && baseline),
      factor <= 1.5,
      guard && baseline ? `guard ${guard.p99Ms.toFixed(2)} ms, baseline ${baseline.p99Ms.toFixed(2)} ms (${factor.toFixed(2)} x)` : '',
    );
  }
  const large = findRun(runs, 'guard', 'large-object', 1);
  judge('1.5 MiB review at 1 connection: guard p99 <= 50 ms', Boolean(large), large?.p99Ms <= 50, large ? `p99 ${large.p99Ms.toFixed(1)} ms` : '');

  const rssDetail = `peak RSS ${guardPeakRssMiB.toFixed(0)} MiB after ${guardReviews} reviews`;
  if (guardReviews >= soakReviews) {
    judge(`guard peak RSS <= ${rssTargetMiB} MiB after ${soakReviews} reviews`, true, guardPeakRssMiB <= rssTargetMiB, rssDetail);
  } else {
    targets.push({ name: `guard peak RSS <= ${rssTargetMiB} MiB after ${soakReviews} reviews`, met: null, detail: `${rssDetail}; fewer than ${soakReviews}, run --soak` });
  }

  const failed = runs.filter((run) => run.errors > 0);
  judge('no errors in any run', runs.length > 0, failed.length === 0, failed.length === 0 ? `${runs.length} runs` : failed.map((run) => `${run.server} ${run.scenario} c${run.connections}: ${run.errors}`).join(', '));
  return targets;
}

function printTargets(targets) {
  console.log('\nTargets');
  for (const target of targets) {
    let verdict = target.met ? 'MET' : 'MISSED';
    if (target.met === null) {
      verdict = 'NOT JUDGED';
    }
    console.log(`  ${verdict.padEnd(10)} ${target.name}: ${target.detail}`);
  }
}

function machine() {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverage: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

async function main() {
  if (!existsSync(guardMain)) {
    fail(`${guardMain} is missing; run "npm run build" first (npm run bench does)`);
  }
  const { createCertificateSet } = await import(join(repoRoot, 'dist', 'tls', 'certificates.js'));
  const { defaultConfig } = await import(join(repoRoot, 'dist', 'config', 'schema.js'));

  const workDir = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-bench-'));
  const certDir = join(workDir, 'certs');
  mkdirSync(certDir);
  const certificates = createCertificateSet({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 2, caCommonName: 'phi-mesh-guard bench CA' });
  writeFileSync(join(certDir, 'ca.crt'), certificates.caCertPem);
  writeFileSync(join(certDir, 'tls.crt'), certificates.certPem);
  writeFileSync(join(certDir, 'tls.key'), certificates.keyPem, { mode: 0o600 });
  const statePath = join(workDir, 'cluster-state.yaml');
  writeFileSync(statePath, clusterState.map((object) => JSON.stringify(object)).join('\n---\n'));
  const configPath = join(workDir, 'guard-config.json');
  const guardConfig = { server: { host: '127.0.0.1' } };
  if (options['fsync-interval-ms'] !== undefined) {
    guardConfig.records = { fsyncIntervalMs: Number(options['fsync-interval-ms']) };
  }
  writeFileSync(configPath, JSON.stringify(guardConfig));
  const recordsPath = join(workDir, 'records', 'decisions.jsonl');
  const bodyLimitBytes = defaultConfig().server.bodyLimitBytes;

  const servers = [];
  const cleanUp = async () => {
    await Promise.all(servers.map(stopServer));
    rmSync(workDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanUp().finally(() => process.exit(130));
  });

  const guardPort = await freePort();
  servers.push(
    await startServer({
      name: 'guard',
      args: [...(options['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(resultsDir, 'profiles')] : []), guardMain, 'serve', '--config', configPath, '--port', String(guardPort), '--cert-dir', certDir, '--cluster-state', statePath, '--records', recordsPath, '--log-level', 'info'],
      port: guardPort,
      ca: certificates.caCertPem,
      readyPath: '/readyz',
      workDir,
    }),
  );
  const baselinePort = await freePort();
  servers.push(
    await startServer({
      name: 'baseline',
      args: [join(repoRoot, 'bench', 'baseline-server.mjs'), '--port', String(baselinePort), '--cert', join(certDir, 'tls.crt'), '--key', join(certDir, 'tls.key'), '--body-limit', String(bodyLimitBytes)],
      port: baselinePort,
      ca: certificates.caCertPem,
      readyPath: '/healthz',
      workDir,
    }),
  );
  const [guard, baseline] = servers;

  const startMachine = machine();
  console.log(`phi-mesh-guard benchmark: ${startMachine.cores} cores, ${startMachine.cpu}, Node.js ${startMachine.node}, load average ${startMachine.loadAverage.join(' ')}`);

  let selected = scenarios().filter((scenario) => options.only === undefined || options.only.includes(scenario.id));
  if (options.soak) {
    selected = [{ id: 'soak', title: `Soak: ${soakReviews} Pod CREATE reviews to /validate`, requests: [soakRequest()], connections: [soakConnections] }];
  }
  if (selected.length === 0) {
    fail(`--only names no known scenario; known: ${scenarios().map((s) => s.id).join(', ')}`);
  }
  await verifyAnswers(servers, selected);

  const runs = [];
  let guardReviews = 0;
  const limit = options.soak ? { amount: soakReviews } : { duration: durationSeconds };
  console.log(options.soak ? `Each server gets ${soakReviews} reviews.` : `Each run lasts ${durationSeconds} s after a ${warmUpSeconds} s warm-up per scenario and server.`);
  console.log(`Node.js flags for both servers: ${nodeFlags.length > 0 ? nodeFlags.join(' ') : 'none'}`);

  for (const scenario of selected) {
    const scenarioRuns = [];
    if (!options.soak) {
      for (const server of servers) {
        await measure(server, scenario, 4, { duration: warmUpSeconds });
      }
    }
    for (const [index, connections] of scenario.connections.entries()) {
      // Alternate which server goes first, so slow drift on a shared machine hits both.
      const order = index % 2 === 0 ? [guard, baseline] : [baseline, guard];
      for (const server of order) {
        await pause(200);
        if (options.soak) {
          console.log(`Sending ${soakReviews} reviews to ${server.name}...`);
        }
        const run = await measure(server, scenario, connections, limit);
        scenarioRuns.push(run);
        if (server === guard) {
          guardReviews += run.responses;
        }
      }
      const guardRun = findRun(scenarioRuns, 'guard', scenario.id, connections);
      guardRun.ratio = guardRun.reviewsPerSecond / findRun(scenarioRuns, 'baseline', scenario.id, connections).reviewsPerSecond;
    }
    scenarioRuns.sort((a, b) => a.connections - b.connections || (a.server === 'guard' ? -1 : 1));
    printScenario(scenario, scenarioRuns);
    runs.push(...scenarioRuns);
  }

  const guardMemory = memoryOf(guard.child.pid);
  const baselineMemory = memoryOf(baseline.child.pid);
  console.log(
    `\nPeak RSS since start: guard ${guardMemory.peakRssMiB.toFixed(0)} MiB after ${guardReviews} measured reviews (now ${guardMemory.rssMiB.toFixed(0)} MiB), ` +
      `baseline ${baselineMemory.peakRssMiB.toFixed(0)} MiB`,
  );
  const targets = judgeTargets(runs, guardReviews, guardMemory.peakRssMiB);
  printTargets(targets);

  const report = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    time: new Date().toISOString(),
    machine: { ...startMachine, loadAverageAtEnd: machine().loadAverage },
    durationSeconds: options.soak ? null : durationSeconds,
    guardConfig,
    nodeFlags,
    guardReviews,
    peakRssMiB: { guard: guardMemory.peakRssMiB, baseline: baselineMemory.peakRssMiB },
    runs,
    targets,
  };
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, options.soak ? 'soak.json' : 'latest.json');
  writeFileSync(resultsFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nWrote ${resultsFile}`);

  await cleanUp();
}

main().catch((error) => {
  fail(error instanceof Error ? error.stack ?? error.message : String(error));
});
