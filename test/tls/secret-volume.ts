import { lstat, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A folder laid out and updated the way the kubelet updates a Secret volume: the
 * files live in a timestamped folder, `..data` is a symlink to it, and each file
 * name is a symlink through `..data`. An update writes a new timestamped folder,
 * points a temporary symlink at it and renames that over `..data`, so readers see
 * either the whole old set or the whole new one.
 */
export class SecretVolume {
  readonly folder: string;
  #version = 0;
  #current: string | undefined;

  constructor(folder: string) {
    this.folder = folder;
  }

  path(name: string): string {
    return join(this.folder, name);
  }

  async update(files: Record<string, string>): Promise<void> {
    this.#version += 1;
    const version = `..2026_01_01_00_00_${String(this.#version).padStart(2, '0')}.${process.pid}`;
    await mkdir(join(this.folder, version), { recursive: true });
    for (const [name, contents] of Object.entries(files)) {
      await writeFile(join(this.folder, version, name), contents, { mode: 0o600 });
    }

    await symlink(version, join(this.folder, '..data_tmp'));
    await rename(join(this.folder, '..data_tmp'), join(this.folder, '..data'));
    for (const name of Object.keys(files)) {
      if (!(await exists(join(this.folder, name)))) {
        await symlink(join('..data', name), join(this.folder, name));
      }
    }

    if (this.#current !== undefined) {
      await rm(join(this.folder, this.#current), { recursive: true });
    }
    this.#current = version;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
