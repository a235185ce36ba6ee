import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A child process started by the harness, with its output appended to `logFile`. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Settles when the process has exited, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ManagedProcess>();
let handlersInstalled = false;

/**
 * Starts `command` with stdout and stderr appended to `logFile`, and registers it so
 * that `stopAll` and the exit handlers end it. The child gets no stdin.
 */
export function startProcess(name: string, command: string, args: readonly string[], options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string }): ManagedProcess {
  installExitHandlers();
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const managed: ManagedProcess = { name, child, logFile: options.logFile, exited };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/** True while the process has neither exited nor been killed by a signal. */
export function isRunning(managed: ManagedProcess): boolean {
  return managed.child.exitCode === null && managed.child.signalCode === null;
}

/** Sends SIGTERM, waits up to `graceMs` for the exit, then sends SIGKILL and waits for that. */
export async function stopProcess(managed: ManagedProcess, graceMs = 5_000): Promise<void> {
  if (!isRunning(managed)) {
    return;
  }
  managed.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([managed.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout' && isRunning(managed)) {
    managed.child.kill('SIGKILL');
    await managed.exited;
  }
}

/** Stops every process still running, the most recently started first. */
export async function stopAll(): Promise<void> {
  for (const managed of [...running].reverse()) {
    await stopProcess(managed);
  }
}

/**
 * Kills what is left when the test process ends without a teardown (an
 * uncaught error, or a signal). The 'exit' handler runs synchronously, so it
 * can only send SIGKILL. On SIGINT, SIGTERM and SIGHUP the children get SIGTERM
 * and two seconds before SIGKILL; the signal is then raised again when no other
 * listener (such as vitest's own) handles it.
 */
function installExitHandlers(): void {
  if (handlersInstalled) {
    return;
  }
  handlersInstalled = true;
  process.on('exit', () => {
    for (const managed of running) {
      if (isRunning(managed)) {
        managed.child.kill('SIGKILL');
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      void Promise.all([...running].map((managed) => stopProcess(managed, 2_000))).finally(() => {
        if (process.listenerCount(signal) === 0) {
          process.kill(process.pid, signal);
        }
      });
      process.removeListener(signal, onSignal);
    };
    process.on(signal, onSignal);
  }
}

/** The last `lines` lines of a log file, or a note when it cannot be read. */
export function tail(file: string, lines = 40): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read ${file}: ${(error as Error).message})`;
  }
}

/**
 * Returns a TCP port that was free on 127.0.0.1 a moment ago. Another process
 * may take it before the caller binds it; on a test machine that is rare enough.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` every `intervalMs` until it returns a value other than
 * undefined. Fails early when `watched` exits, and after `timeoutMs` with the
 * last error `probe` raised.
 */
export async function waitUntil<T>(
  description: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; watched?: ManagedProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastProblem = 'no answer yet';
  for (;;) {
    if (options.watched !== undefined && !isRunning(options.watched)) {
      const { code, signal } = await options.watched.exited;
      throw new Error(`${options.watched.name} exited (code ${code}, signal ${signal}) while waiting for ${description}; log ${options.watched.logFile}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${description}; last problem: ${lastProblem}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
