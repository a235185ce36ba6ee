import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Binaries } from './binaries.js';
import { httpsRequest } from './https.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './processes.js';

/** A static-token user of the test API server. */
export interface TokenUser {
  name: string;
  groups: string[];
  token: string;
}

export interface TestUsers {
  /** In system:masters, so RBAC allows everything. */
  admin: TokenUser;
  /** An ordinary developer, in group `developers`. */
  developer: TokenUser;
  /** An on-call engineer in the guard's break-glass group `phi-break-glass`. */
  breakGlass: TokenUser;
}

export interface ControlPlane {
  etcd: ManagedProcess;
  apiServer: ManagedProcess;
  /** https://127.0.0.1:PORT */
  url: string;
  /** The API server's serving certificate followed by its self-signed CA, usable as a CA file. */
  caFile: string;
  users: TestUsers;
}

/** The break-glass group that the guard's configuration names. */
export const breakGlassGroup = 'phi-break-glass';

/**
 * Starts etcd and kube-apiserver on free loopback ports, with files in `workDir`,
 * and waits until the API server's /readyz answers `ok`. The flags follow
 * test/e2e/binaries/README.md. Without kube-controller-manager no namespace gets
 * a `default` ServiceAccount, so the ServiceAccount admission plugin is off.
 */
export async function startControlPlane(binaries: Binaries, workDir: string): Promise<ControlPlane> {
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];

  const etcd = startProcess(
    'etcd',
    binaries.etcd,
    [
      '--name=e2e',
      `--data-dir=${join(workDir, 'etcd-data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=e2e=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { logFile: join(workDir, 'etcd.log') },
  );
  await waitUntil(
    'etcd /health',
    async () => {
      const response = await fetch(`http://127.0.0.1:${etcdPort}/health`);
      const body = (await response.json()) as { health?: string };
      return body.health === 'true' ? true : undefined;
    },
    { timeoutMs: 20_000, watched: etcd },
  );

  const users: TestUsers = {
    admin: { name: 'e2e-admin', groups: ['system:masters'], token: randomToken() },
    developer: { name: 'dev@example.org', groups: ['developers'], token: randomToken() },
    breakGlass: { name: 'oncall@example.org', groups: [breakGlassGroup], token: randomToken() },
  };
  const tokenFile = join(workDir, 'tokens.csv');
  // Columns: token, user name, user uid, groups (quoted, comma-separated).
  await writeFile(tokenFile, Object.values(users).map((user) => `${user.token},${user.name},${user.name},"${user.groups.join(',')}"\n`).join(''), { mode: 0o600 });

  const serviceAccountKey = join(workDir, 'service-account.key');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  const certDir = join(workDir, 'apiserver-certs');
  await mkdir(certDir, { recursive: true });
  const apiServer = startProcess(
    'kube-apiserver',
    binaries.kubeApiserver,
    [
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--advertise-address=127.0.0.1',
      `--cert-dir=${certDir}`,
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--storage-backend=etcd3',
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${serviceAccountKey}`,
      `--service-account-signing-key-file=${serviceAccountKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--endpoint-reconciler-type=none',
      '--disable-admission-plugins=ServiceAccount',
    ],
    { logFile: join(workDir, 'kube-apiserver.log') },
  );

  const url = `https://127.0.0.1:${apiPort}`;
  const caFile = join(certDir, 'apiserver.crt');
  await waitUntil(
    'kube-apiserver /readyz',
    async () => {
      if (!existsSync(caFile)) {
        return undefined;
      }
      const response = await httpsRequest({ url: `${url}/readyz`, ca: await readFile(caFile, 'utf8'), token: users.admin.token });
      if (response.status !== 200 || response.body !== 'ok') {
        throw new Error(`/readyz answered HTTP ${response.status}: ${response.body.slice(0, 300)}`);
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 250, watched: apiServer },
  );
  return { etcd, apiServer, url, caFile, users };
}

/**
 * Writes a kubeconfig with one context per user (`admin`, `developer`,
 * `break-glass`), `admin` being the current one.
 */
export async function writeUsersKubeconfig(file: string, plane: ControlPlane): Promise<void> {
  const contexts = [
    ['admin', plane.users.admin],
    ['developer', plane.users.developer],
    ['break-glass', plane.users.breakGlass],
  ] as const;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: plane.url, 'certificate-authority': plane.caFile } }],
    users: contexts.map(([name, user]) => ({ name, user: { token: user.token } })),
    contexts: contexts.map(([name]) => ({ name, context: { cluster: 'e2e', user: name } })),
    'current-context': 'admin',
  };
  await writeFile(file, stringify(kubeconfig), { mode: 0o600 });
}

/** Writes a kubeconfig for one bearer token, such as the guard's service account token. */
export async function writeTokenKubeconfig(file: string, plane: ControlPlane, userName: string, token: string): Promise<void> {
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: plane.url, 'certificate-authority': plane.caFile } }],
    users: [{ name: userName, user: { token } }],
    contexts: [{ name: userName, context: { cluster: 'e2e', user: userName } }],
    'current-context': userName,
  };
  await writeFile(file, stringify(kubeconfig), { mode: 0o600 });
}

function randomToken(): string {
  return randomBytes(24).toString('hex');
}
