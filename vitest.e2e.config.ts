import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs the end-to-end files one at a time in the order of their names. They
 * share one API server, and the outage file stops and restarts the guard, which
 * the last file's record count depends on.
 */
class FileNameSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/harness/global-setup.ts'],
    fileParallelism: false,
    sequence: { sequencer: FileNameSequencer },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The teardown stops the guard, kube-apiserver (about 2.5 s after SIGTERM)
    // and etcd, each with SIGKILL after 5 s.
    teardownTimeout: 30_000,
  },
});
