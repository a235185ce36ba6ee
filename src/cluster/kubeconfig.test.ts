import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../errors.js';
import { loadKubeConfig } from './kubeconfig.js';

let folder: string;
let home: string;

function kubeconfigYaml(options: { cluster: string; server: string; currentContext?: string }): string {
  const current = options.currentContext === undefined ? '' : `current-context: ${options.currentContext}\n`;
  return `apiVersion: v1
kind: Config
clusters:
  - name: ${options.cluster}
    cluster:
      server: ${options.server}
users:
  - name: ${options.cluster}-user
    user:
      token: not-a-real-token
contexts:
  - name: ${options.cluster}
    context:
      cluster: ${options.cluster}
      user: ${options.cluster}-user
${current}`;
}

function writeKubeconfig(name: string, content: string): string {
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'phi-mesh-guard-kubeconfig-'));
  home = join(folder, 'home');
  mkdirSync(home);
  vi.stubEnv('HOME', home);
  vi.stubEnv('KUBECONFIG', '');
  vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
  vi.stubEnv('KUBERNETES_SERVICE_PORT', '');
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('loadKubeConfig', () => {
  it('explicit file', () => {
    const file = writeKubeconfig('explicit', kubeconfigYaml({ cluster: 'explicit', server: 'https://127.0.0.1:6443', currentContext: 'explicit' }));
    vi.stubEnv('KUBECONFIG', writeKubeconfig('other', kubeconfigYaml({ cluster: 'other', server: 'https://127.0.0.1:7443', currentContext: 'other' })));

    const kubeConfig = loadKubeConfig({ file });

    expect(kubeConfig?.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('KUBECONFIG merged, first wins', () => {
    const first = writeKubeconfig('first', kubeconfigYaml({ cluster: 'shared', server: 'https://127.0.0.1:6443', currentContext: 'shared' }));
    const second = writeKubeconfig('second', kubeconfigYaml({ cluster: 'shared', server: 'https://127.0.0.1:7443', currentContext: 'other' }));
    vi.stubEnv('KUBECONFIG', [join(folder, 'missing'), first, second].join(delimiter));

    const kubeConfig = loadKubeConfig();

    expect(kubeConfig?.getCurrentContext()).toBe('shared');
    expect(kubeConfig?.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('current context from a later file', () => {
    const first = writeKubeconfig('first', kubeconfigYaml({ cluster: 'first', server: 'https://127.0.0.1:6443' }));
    const second = writeKubeconfig('second', kubeconfigYaml({ cluster: 'second', server: 'https://127.0.0.1:7443', currentContext: 'first' }));
    vi.stubEnv('KUBECONFIG', [first, second].join(delimiter));

    expect(loadKubeConfig()?.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('home config', () => {
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), kubeconfigYaml({ cluster: 'home', server: 'https://127.0.0.1:8443', currentContext: 'home' }));
    vi.stubEnv('KUBECONFIG', join(folder, 'missing'));

    expect(loadKubeConfig()?.getCurrentCluster()?.server).toBe('https://127.0.0.1:8443');
  });

  it('in-cluster service account', () => {
    const prefix = join(folder, 'root');
    const accountFolder = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(accountFolder, { recursive: true });
    writeFileSync(join(accountFolder, 'token'), 'not-a-real-token');
    writeFileSync(join(accountFolder, 'namespace'), 'phi-mesh-guard');
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '127.0.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '6443');

    const kubeConfig = loadKubeConfig({ serviceAccountPathPrefix: prefix });

    expect(kubeConfig?.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kubeConfig?.getCurrentCluster()?.caFile).toBe(join(accountFolder, 'ca.crt'));
  });

  it.each([
    { name: 'no source', host: '', tokenFile: false },
    { name: 'token without service host', host: '', tokenFile: true },
    { name: 'service host without token', host: '127.0.0.1', tokenFile: false },
  ])('$name gives undefined', ({ host, tokenFile }) => {
    const prefix = join(folder, 'root');
    if (tokenFile) {
      mkdirSync(join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
      writeFileSync(join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount/token'), 'not-a-real-token');
    }
    vi.stubEnv('KUBERNETES_SERVICE_HOST', host);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', host === '' ? '' : '6443');

    expect(loadKubeConfig({ serviceAccountPathPrefix: prefix })).toBeUndefined();
  });

  it.each([
    { name: 'missing file', content: undefined, message: /^kubeconfig .*absent not found$/ },
    { name: 'no current context', content: kubeconfigYaml({ cluster: 'c', server: 'https://127.0.0.1:6443' }), message: /cannot be used: it sets no current-context$/ },
    {
      name: 'unknown current context',
      content: kubeconfigYaml({ cluster: 'c', server: 'https://127.0.0.1:6443', currentContext: 'elsewhere' }),
      message: /cannot be used: its current context "elsewhere" names no cluster that it defines$/,
    },
    { name: 'not YAML', content: 'clusters: [unclosed', message: /cannot be read: / },
  ])('$name raises ConfigError', ({ content, message }) => {
    const file = content === undefined ? join(folder, 'absent') : writeKubeconfig('bad', content);

    const load = () => loadKubeConfig({ file });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
});
