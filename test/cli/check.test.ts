import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const config = 'examples/patient-records/guard-config.yaml';

describe('phi-mesh-guard check', () => {
  it('exits 0 for the compliant example', async () => {
    const result = await runCli(['check', '--config', config, '-f', 'examples/patient-records/compliant']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^\d+ objects: 0 denied, 0 mutated, \d+ allowed, 0 not evaluable$/);
  });

  it('exits 1 and lists findings as JSON for the mistakes', async () => {
    const result = await runCli(['check', '--config', config, '-f', 'examples/patient-records/mistakes', '--output', 'json']);
    expect(result.status).toBe(1);
    const { results } = JSON.parse(result.stdout) as { results: Array<Record<string, unknown>> };
    const gateway = results.find((entry) => entry.kind === 'Deployment' && entry.name === 'records-gateway');
    expect(gateway).toMatchObject({
      source: 'examples/patient-records/mistakes/records-gateway.yaml#0',
      apiVersion: 'apps/v1',
      namespace: 'patient-records',
      decision: 'deny',
      patch: [],
    });
    expect((gateway!.violations as Array<{ rule: string; controls: string[] }>)[0]).toMatchObject({ rule: 'pod-host-network', controls: ['164.312(e)(1)'] });
  });

  it('reads standard input and reports the mutation of a new PHI namespace', async () => {
    const manifest = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: claims\n  labels:\n    phi-mesh-guard.io/phi: "true"\n';
    const result = await runCli(['check', '-f', '-', '-o', 'json'], manifest);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      results: [
        {
          source: '-#0',
          apiVersion: 'v1',
          kind: 'Namespace',
          namespace: '',
          name: 'claims',
          decision: 'mutate',
          violations: [],
          patch: [{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }],
        },
      ],
    });
  });

  it('judges a pod against an existing PHI namespace', async () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: claims}\nspec:\n  hostNetwork: true\n  containers: [{name: probe, image: busybox}]\n';
    const denied = await runCli(['check', '-f', '-', '--phi-namespace', 'claims'], pod);
    expect(denied.status).toBe(1);
    expect(denied.stdout).toContain('[pod-host-network] Pod claims/probe sets spec.hostNetwork to true');
    const dryRun = await runCli(['check', '-f', '-', '--phi-namespace', 'claims', '--mode', 'dry-run'], pod);
    expect(dryRun.status).toBe(1);
    expect(dryRun.stdout).toContain('WOULD-DENY');
    expect(dryRun.stdout.trim().split('\n').at(-1)).toBe('1 object: 1 would be denied, 0 would be mutated, 0 allowed, 0 not evaluable');
  });

  it.each([
    { name: 'no -f', args: ['check'], message: 'phi-mesh-guard check: check needs at least one -f PATH' },
    { name: 'bad output', args: ['check', '-f', '-', '-o', 'yaml'], message: 'phi-mesh-guard check: --output must be table or json, found "yaml"' },
    { name: 'unknown flag', args: ['check', '--colour'], message: "phi-mesh-guard check: Unknown option '--colour'" },
    { name: 'missing file', args: ['check', '-f', 'nowhere.yaml'], message: 'phi-mesh-guard check: cannot read nowhere.yaml: no such file or folder' },
  ])('exits 2 for $name', async ({ args, message }) => {
    const result = await runCli(args);
    expect(result.status).toBe(2);
    expect(result.stderr.startsWith(message)).toBe(true);
  });

  it('exits 2 for input without objects', async () => {
    const result = await runCli(['check', '-f', '-'], '# nothing here\n');
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('phi-mesh-guard check: no Kubernetes objects found in -; an empty input would pass every check\n');
  });

  it('exits 2 naming the document that cannot be parsed', async () => {
    const result = await runCli(['check', '-f', '-'], 'apiVersion: v1\nkind: Namespace\n---\nkind: [oops\n');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^phi-mesh-guard check: -#1: invalid YAML or JSON: /);
  });

  it('exits 2 for an object it cannot evaluate', async () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: claims}\nspec:\n  containers: api\n';
    const result = await runCli(['check', '-f', '-', '--phi-namespace', 'claims'], pod);
    expect(result.status).toBe(2);
    expect(result.stdout).toContain('ERROR   -#0  Pod claims/probe  cannot evaluate Pod claims/probe: spec.containers must be a list');
  });
});
