import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';

function configFile(text: string, name = 'config.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'phi-mesh-guard-config-')), name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('serves a local run with no file', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.defaultMode).toBe('enforce');
    expect(config.server.port).toBe(8443);
    expect(config.phiLabel).toEqual({ key: 'phi-mesh-guard.io/phi', value: 'true' });
    expect(config.records.path).toBe('records/decisions.jsonl');
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('reads YAML and JSON files', async () => {
    const yaml = await loadConfig({ file: configFile('defaultMode: dry-run\nbreakGlass:\n  groups: [sre]\n'), env: {} });
    expect(yaml.defaultMode).toBe('dry-run');
    expect(yaml.breakGlass).toEqual({ groups: ['sre'], users: [] });
    const json = await loadConfig({ file: configFile('{"rootNamespace": "mesh-root"}', 'config.json'), env: {} });
    expect(json.rootNamespace).toBe('mesh-root');
  });

  it('lists every problem at once', async () => {
    const file = configFile(
      [
        'defaultMode: audit',
        'colour: blue',
        'server:',
        '  port: 70000',
        '  certFile: /etc/tls/tls.crt',
        'exemptions:',
        '  - rule: mtls-strict',
        '    kind: PeerAuthentication',
        '    namespace: billing',
        '    reason: legacy',
        '    expires: next week',
      ].join('\n'),
    );
    const error = await loadConfig({ file, env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split('\n')[0]).toBe(`invalid configuration from ${file}:`);
    expect(message).toContain('  - defaultMode: ');
    expect(message).toContain('colour');
    expect(message).toContain('  - server.port: ');
    expect(message).toContain('certFile and keyFile must be set together');
    expect(message).toContain('  - exemptions.0.expires: must be an ISO 8601 date such as 2027-06-30');
    expect(message).toContain('an exemption names exactly one of "name" or "selector"');
  });

  it('rejects exemptions for unknown rules and kinds', async () => {
    const file = configFile(
      ['exemptions:', '  - rule: authz-no-wildcard-alow', '    kind: AuthorisationPolicy', '    namespace: billing', '    name: gateway', '    reason: public gateway'].join('\n'),
    );
    const error = await loadConfig({ file, env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/ {2}- exemptions\.0\.rule: Invalid option: expected one of "pod-phi-labels"\|/);
    expect((error as Error).message).toMatch(/ {2}- exemptions\.0\.kind: Invalid option: expected one of "Pod"\|/);
  });

  it('lets the environment and flags override the file', async () => {
    const file = configFile('server:\n  port: 9443\nlogLevel: warn\n');
    const config = await loadConfig({
      file,
      env: { PHI_MESH_GUARD_PORT: '10443', PHI_MESH_GUARD_LOG_LEVEL: 'debug' },
      overrides: { logLevel: 'error' },
    });
    expect(config.server.port).toBe(10443);
    expect(config.logLevel).toBe('error');
  });

  it('rejects a non-numeric port from the environment', async () => {
    await expect(loadConfig({ env: { PHI_MESH_GUARD_PORT: 'eighty' } })).rejects.toThrow(/server\.port: /);
  });

  it.each([
    { name: 'missing file', file: '/nonexistent/phi-mesh-guard.yaml', message: /^cannot read configuration file \/nonexistent\/phi-mesh-guard\.yaml: / },
    { name: 'broken YAML', file: configFile('defaultMode: [enforce'), message: /is not valid YAML or JSON/ },
    { name: 'top-level list', file: configFile('- enforce\n'), message: /must hold a mapping at the top level$/ },
  ])('reports a $name', async ({ file, message }) => {
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(message);
  });

  it('treats an empty file as defaults', async () => {
    const config = await loadConfig({ file: configFile(''), env: {} });
    expect(config.defaultMode).toBe('enforce');
  });
});
