#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { GuardError } from '../errors.js';
import { UsageError } from './usage-error.js';

const usage = `Usage: phi-mesh-guard COMMAND [options]

Commands:
  serve            run the admission webhook over HTTPS (what npm start runs)
  check -f PATH    evaluate manifests offline; exit 1 when enforce mode would deny
  records verify   verify decision record hash chains
  certs            write a CA and serving certificate for the webhook Service and print the caBundle
  manifests        print the deployment manifests for a namespace, image and Service name

Run "phi-mesh-guard COMMAND --help" for a command's options.
`;

interface Command {
  run: (args: string[]) => Promise<number>;
  usage: string;
}

/**
 * Each command's module is imported only when that command runs, so `check` and
 * `records` start without loading the Kubernetes client and the HTTP server.
 */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => {
    const module = await import('./serve.js');
    return { run: module.runServe, usage: module.serveUsage };
  },
  check: async () => {
    const module = await import('./check.js');
    return { run: module.runCheck, usage: module.checkUsage };
  },
  records: async () => {
    const module = await import('./records.js');
    return { run: module.runRecords, usage: module.recordsUsage };
  },
  certs: async () => {
    const module = await import('./certs.js');
    return { run: module.runCerts, usage: module.certsUsage };
  },
  manifests: async () => {
    const module = await import('./manifests.js');
    return { run: module.runManifests, usage: module.manifestsUsage };
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${manifest.version}\n`);
    return 0;
  }
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`phi-mesh-guard: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  const command = await load();
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      process.stderr.write(`phi-mesh-guard ${name}: ${(error as Error).message}\n\n${command.usage}`);
      return 2;
    }
    if (error instanceof GuardError) {
      process.stderr.write(`phi-mesh-guard ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

// A reader that stops early, such as `head`, closes the pipe; that is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') {
    process.exit(process.exitCode ?? 0);
  }
  throw error;
});

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`phi-mesh-guard: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
