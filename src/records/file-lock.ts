import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Record files this process holds, so two recorders in one process cannot share a file. */
const heldByThisProcess = new Set<string>();

export class RecordFileLockedError extends Error {
  override readonly name = 'RecordFileLockedError';
}

/**
 * Takes `PATH.lock` for a decision record file and returns the function that
 * releases it. Two writers on one file would interleave two chains, which
 * `records verify` then reports as tampering, so a second writer is refused.
 *
 * A lock left by a process that no longer runs, or by an earlier run with this
 * process's pid (a restarted container's node is pid 1 again), is taken over.
 * NOTE: after a crash, an unrelated process that reused the old pid keeps the
 * file locked until the lock file is removed by hand.
 */
export async function lockRecordFile(path: string): Promise<() => Promise<void>> {
  const absolute = resolve(path);
  if (heldByThisProcess.has(absolute)) {
    throw new RecordFileLockedError(`decision record file ${path} is already open in this process`);
  }
  const lockPath = `${absolute}.lock`;

  try {
    const handle = await open(lockPath, 'wx');
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner)) {
      throw new RecordFileLockedError(
        `decision record file ${path} is in use by process ${owner} (see ${lockPath}); give each phi-mesh-guard process its own record file, or remove the lock file if that process is not a guard`,
      );
    }
    await writeFile(lockPath, `${process.pid}\n`);
  }

  heldByThisProcess.add(absolute);
  return async () => {
    heldByThisProcess.delete(absolute);
    await unlink(lockPath).catch(() => undefined);
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
