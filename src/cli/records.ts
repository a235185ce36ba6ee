import { parseArgs } from 'node:util';
import { verifyChain } from '../records/verify.js';
import { UsageError } from './usage-error.js';

export const recordsUsage = `Usage: phi-mesh-guard records verify FILE [FILE...]

Walks the decision record files, oldest first, as one SHA-256 hash chain and names the
first line that was altered, removed, inserted or reordered.

Exit status: 0 when the chain is intact, 1 when it is broken, 2 when a file cannot be read.
`;

export async function runRecords(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === '--help' || action === '-h') {
    process.stdout.write(recordsUsage);
    return action === undefined ? 2 : 0;
  }
  if (action !== 'verify') {
    throw new UsageError(`unknown records command "${action}"; the only one is "verify"`);
  }
  const { positionals, values } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(recordsUsage);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError('records verify needs at least one FILE');
  }

  let result;
  try {
    result = await verifyChain(positionals);
  } catch (error) {
    process.stderr.write(`phi-mesh-guard: cannot read decision records: ${(error as Error).message}\n`);
    return 2;
  }
  if (result.ok) {
    const files = result.files === 1 ? '1 file' : `${result.files} files`;
    process.stdout.write(`chain intact: ${result.records} records in ${files}, last hash ${result.lastHash ?? 'none'}\n`);
    return 0;
  }
  process.stdout.write(`chain broken at ${result.file}:${result.line}: ${result.message}\n`);
  return 1;
}
