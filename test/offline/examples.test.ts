import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readManifests } from '../../src/manifest/read.js';
import { checkManifests, type CheckResult } from '../../src/offline/check.js';
import { rules } from '../../src/rules/catalog.js';

const examples = new URL('../../examples/patient-records/', import.meta.url).pathname;

async function checkFolder(folder: string): Promise<CheckResult[]> {
  const config = await loadConfig({ file: `${examples}guard-config.yaml`, env: {} });
  const documents = await readManifests([`${examples}${folder}`]);
  return checkManifests({ documents, config, rules, mode: 'enforce', now: new Date('2026-12-04T00:00:00Z') });
}

/** The planted mistakes as `file kind namespace/name rule`, read from the table in mistakes/README.md. */
function plantedMistakes(): string[] {
  const readme = readFileSync(`${examples}mistakes/README.md`, 'utf8');
  const rows = [...readme.matchAll(/^\| `([^`]+)` \| (\w+) `([^`]+)` \| .* \| `([a-z-]+)` \|$/gm)];
  return rows.map(([, file, kind, ref, rule]) => `${file} ${kind} ${ref} ${rule}`).sort();
}

function deniedFindings(results: readonly CheckResult[]): string[] {
  return results
    .flatMap((result) =>
      result.violations
        .filter((violation) => violation.exemption === undefined)
        .map((violation) => `${basename(result.source.split('#')[0]!)} ${result.kind} ${result.namespace === '' ? '' : `${result.namespace}/`}${result.name} ${violation.rule}`),
    )
    .sort();
}

describe('patient-records example', () => {
  it('compliant set has no denial', async () => {
    const results = await checkFolder('compliant');
    expect(results.length).toBeGreaterThan(20);
    expect(deniedFindings(results)).toEqual([]);
    expect(results.filter((result) => result.decision === 'error')).toEqual([]);
  });

  it('compliant gateway policy passes only through its exemption', async () => {
    const results = await checkFolder('compliant');
    const exempted = results.flatMap((result) => result.violations.filter((violation) => violation.exemption !== undefined));
    expect(exempted.map((violation) => violation.rule)).toEqual(['authz-no-wildcard-allow']);
  });

  it('mistakes set names every planted mistake and nothing else', async () => {
    const planted = plantedMistakes();
    expect(planted).toHaveLength(15);
    expect(deniedFindings(await checkFolder('mistakes'))).toEqual(planted);
  });
});
