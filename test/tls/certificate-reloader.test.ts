import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateSet, type CertificateSet } from '../../src/tls/certificates.js';
import { CertificateReloader, type CertificateReloaderOptions } from '../../src/tls/certificate-reloader.js';
import { loadServingCertificate } from '../../src/tls/serving-certificate.js';
import { createEcdsaPair } from './ecdsa-pair.js';
import { closeServer, getOverTls } from './https-client.js';
import { captureLog, type CapturedLog } from './log-capture.js';
import { SecretVolume } from './secret-volume.js';

const tlsOptions = { minVersion: 'TLSv1.2' } as const;

// Two serving certificates for the same name, each from its own CA.
const first = createCertificateSet({ dnsNames: ['localhost'], validityDays: 90 });
const second = createCertificateSet({ dnsNames: ['localhost'], validityDays: 120 });
const bothCas = first.caCertPem + second.caCertPem;
const firstFingerprint = new X509Certificate(first.certPem).fingerprint256;
const secondFingerprint = new X509Certificate(second.certPem).fingerprint256;

interface Running {
  server: Server;
  port: number;
  reloader: CertificateReloader;
  log: CapturedLog;
  /** Resolves the pending `/slow` requests. */
  releaseSlow: () => void;
  /** Resolves when a `/slow` request has reached the handler. */
  slowStarted: Promise<void>;
}

const running: Running[] = [];

afterEach(async () => {
  for (const entry of running.splice(0)) {
    entry.reloader.stop();
    await closeServer(entry.server);
  }
});

function temporaryFolder(): string {
  return mkdtempSync(join(tmpdir(), 'phi-mesh-guard-reload-'));
}

async function secretVolumeWith(set: CertificateSet): Promise<SecretVolume> {
  const volume = new SecretVolume(temporaryFolder());
  await volume.update({ 'tls.crt': set.certPem, 'tls.key': set.keyPem });
  return volume;
}

/** Starts an HTTPS server with `set` and a reloader on the two files; `/slow` waits for releaseSlow(). */
async function start(
  set: Pick<CertificateSet, 'certPem' | 'keyPem'>,
  files: { certFile: string; keyFile: string },
  options: Partial<Omit<CertificateReloaderOptions, 'certificate' | 'logger'>> = {},
): Promise<Running> {
  let releaseSlow = (): void => {};
  const released = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  let markStarted = (): void => {};
  const slowStarted = new Promise<void>((resolve) => {
    markStarted = resolve;
  });

  const server = createServer({ cert: set.certPem, key: set.keyPem, ...tlsOptions }, (req, res) => {
    if (req.url === '/slow') {
      markStarted();
      void released.then(() => res.end('slow done'));
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const log = captureLog();
  const reloader = new CertificateReloader({
    certificate: { ...files, cert: set.certPem, key: set.keyPem },
    contextOptions: tlsOptions,
    logger: log.logger,
    ...options,
  });
  reloader.start(server);

  const entry = { server, port: (server.address() as AddressInfo).port, reloader, log, releaseSlow, slowStarted };
  running.push(entry);
  return entry;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after 5 s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function messages(log: CapturedLog, level?: number): string[] {
  return log.lines.filter((line) => level === undefined || line.level === level).map((line) => String(line.msg));
}

const warnLevel = 40;
const errorLevel = 50;

describe('CertificateReloader', () => {
  it('serves a swapped Secret to new connections while an open request finishes', async () => {
    const volume = await secretVolumeWith(first);
    const { port, reloader, log, releaseSlow, slowStarted } = await start(first, { certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, { pollIntervalMs: 200 });

    const slow = getOverTls(port, { servername: 'localhost', ca: bothCas, path: '/slow' });
    await slowStarted;

    await volume.update({ 'tls.crt': second.certPem, 'tls.key': second.keyPem });
    await waitFor(() => reloader.fingerprint256 === secondFingerprint, 'the second certificate to be applied');

    const fresh = await getOverTls(port, { servername: 'localhost', ca: bothCas });
    expect(fresh.status).toBe(200);
    expect(fresh.fingerprint256).toBe(secondFingerprint);

    releaseSlow();
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(finished.body).toBe('slow done');
    expect(finished.fingerprint256).toBe(firstFingerprint);

    expect(reloader.notAfter.toISOString()).toBe(new Date(new X509Certificate(second.certPem).validTo).toISOString());
    const reloaded = log.lines.find((line) => line.msg === 'serving certificate reloaded');
    expect(reloaded).toMatchObject({ level: 30, certFile: volume.path('tls.crt'), notAfter: reloader.notAfter.toISOString(), fingerprint256: secondFingerprint });
  });

  it.each([
    { name: 'polling alone', options: { watchFiles: false, pollIntervalMs: 50 } },
    { name: 'the folder watch alone', options: { watchFiles: true, pollIntervalMs: 0 } },
  ])('sees a Secret update through $name', async ({ options }) => {
    const volume = await secretVolumeWith(first);
    const { port, reloader } = await start(first, { certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, options);

    await volume.update({ 'tls.crt': second.certPem, 'tls.key': second.keyPem });
    await waitFor(() => reloader.fingerprint256 === secondFingerprint, 'the second certificate to be applied');

    expect((await getOverTls(port, { servername: 'localhost', ca: bothCas })).fingerprint256).toBe(secondFingerprint);
  });

  it('switches from RSA to ECDSA', async () => {
    const ecdsa = createEcdsaPair();
    const volume = await secretVolumeWith(first);
    const { port, reloader } = await start(first, { certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, { watchFiles: false, pollIntervalMs: 0 });

    await volume.update({ 'tls.crt': ecdsa.certPem, 'tls.key': ecdsa.keyPem });
    expect(await reloader.check()).toBe('reloaded');

    const fresh = await getOverTls(port, { servername: 'localhost', ca: ecdsa.certPem });
    expect(fresh.fingerprint256).toBe(new X509Certificate(ecdsa.certPem).fingerprint256);
  });

  it('follows a development certificate rewritten in place', async () => {
    const folder = temporaryFolder();
    const { logger } = captureLog();
    const development = await loadServingCertificate({ certDir: folder }, logger);
    const { port, reloader } = await start({ certPem: development.cert, keyPem: development.key }, development, { pollIntervalMs: 100 });

    await writeFile(development.keyFile, second.keyPem);
    await writeFile(development.certFile, second.certPem);
    await waitFor(() => reloader.fingerprint256 === secondFingerprint, 'the rewritten certificate to be applied');

    expect((await getOverTls(port, { servername: 'localhost', ca: second.caCertPem })).fingerprint256).toBe(secondFingerprint);
  });

  it('keeps the current pair while the files do not match', async () => {
    const folder = temporaryFolder();
    const files = { certFile: join(folder, 'tls.crt'), keyFile: join(folder, 'tls.key') };
    await writeFile(files.certFile, first.certPem);
    await writeFile(files.keyFile, first.keyPem);
    const { port, reloader, log } = await start(first, files, { watchFiles: false, pollIntervalMs: 0 });

    await writeFile(files.certFile, second.certPem);
    expect(await reloader.check()).toBe('rejected');
    expect(await reloader.check()).toBe('rejected');
    expect(reloader.fingerprint256).toBe(firstFingerprint);
    expect((await getOverTls(port, { servername: 'localhost', ca: bothCas })).fingerprint256).toBe(firstFingerprint);

    const rejections = log.lines.filter((line) => line.msg === 'serving certificate not reloaded; keeping the current one');
    expect(rejections.map((line) => line.level)).toEqual([warnLevel, 20]);
    expect(rejections[0]).toMatchObject({ certFile: files.certFile, keyFile: files.keyFile });
    expect((rejections[0]!.err as { message: string }).message).toBe(`key ${files.keyFile} does not match certificate ${files.certFile}`);

    await writeFile(files.keyFile, second.keyPem);
    expect(await reloader.check()).toBe('reloaded');
    expect((await getOverTls(port, { servername: 'localhost', ca: bothCas })).fingerprint256).toBe(secondFingerprint);
  });

  it.each([
    { name: 'a truncated certificate', cert: () => first.certPem.slice(0, 300), key: () => first.keyPem, problem: 'does not contain a PEM certificate' },
    { name: 'a truncated key', cert: () => second.certPem, key: () => second.keyPem.slice(0, 300), problem: 'does not contain a usable PEM private key' },
    { name: 'an empty certificate', cert: () => '', key: () => second.keyPem, problem: 'does not contain a PEM certificate' },
  ])('keeps the current pair after $name', async ({ cert, key, problem }) => {
    const folder = temporaryFolder();
    const files = { certFile: join(folder, 'tls.crt'), keyFile: join(folder, 'tls.key') };
    await writeFile(files.certFile, cert());
    await writeFile(files.keyFile, key());
    const { reloader, log } = await start(first, files, { watchFiles: false, pollIntervalMs: 0 });

    expect(await reloader.check()).toBe('rejected');
    expect(reloader.fingerprint256).toBe(firstFingerprint);
    const [rejection] = log.lines.filter((line) => line.level === warnLevel);
    expect((rejection!.err as { message: string }).message).toContain(problem);
  });

  it('keeps the current pair while a file is missing', async () => {
    const folder = temporaryFolder();
    const files = { certFile: join(folder, 'tls.crt'), keyFile: join(folder, 'tls.key') };
    await writeFile(files.certFile, first.certPem);
    const { reloader, log } = await start(first, files, { watchFiles: false, pollIntervalMs: 0 });

    expect(await reloader.check()).toBe('rejected');
    expect(messages(log, warnLevel)).toEqual(['serving certificate not reloaded; keeping the current one']);
    expect((log.lines[0]!.err as { message: string }).message).toMatch(/^cannot read certificate .* or key .*: ENOENT/);
  });

  it('reports unchanged files as unchanged', async () => {
    const volume = await secretVolumeWith(first);
    const { reloader, log } = await start(first, { certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, { watchFiles: false, pollIntervalMs: 0 });
    await volume.update({ 'tls.crt': first.certPem, 'tls.key': first.keyPem });

    expect(await reloader.check()).toBe('unchanged');
    expect(log.lines).toEqual([]);
  });

  it('rejects a starting pair that does not match', () => {
    expect(
      () =>
        new CertificateReloader({
          certificate: { certFile: 'tls.crt', keyFile: 'tls.key', cert: first.certPem, key: second.keyPem },
          logger: captureLog().logger,
        }),
    ).toThrow('key tls.key does not match certificate tls.crt');
  });
});

describe('CertificateReloader expiry check', () => {
  const soon = createCertificateSet({ dnsNames: ['localhost'], validityDays: 10 });
  const expired = createCertificateSet({ dnsNames: ['localhost'], validityDays: 0 });

  function filesFor(): { certFile: string; keyFile: string } {
    const folder = temporaryFolder();
    return { certFile: join(folder, 'tls.crt'), keyFile: join(folder, 'tls.key') };
  }

  it('warns at start when expiry is within the warning days', async () => {
    const files = filesFor();
    const { log } = await start(soon, files, { watchFiles: false, pollIntervalMs: 0, expiryWarningDays: 30 });
    expect(log.lines).toEqual([
      expect.objectContaining({ level: warnLevel, msg: 'serving certificate expires soon', certFile: files.certFile, daysLeft: 9, notAfter: expect.any(String) }),
    ]);
  });

  it('stays quiet when expiry is further away', async () => {
    const { log } = await start(soon, filesFor(), { watchFiles: false, pollIntervalMs: 0, expiryWarningDays: 7 });
    expect(log.lines).toEqual([]);
  });

  it('logs an error for an expired certificate', async () => {
    const { log } = await start(expired, filesFor(), { watchFiles: false, pollIntervalMs: 0 });
    expect(messages(log, errorLevel)).toEqual(['serving certificate has expired']);
  });

  it('checks again on its interval', async () => {
    const { log } = await start(soon, filesFor(), { watchFiles: false, pollIntervalMs: 0, expiryCheckIntervalMs: 30 });
    await waitFor(() => messages(log, warnLevel).length >= 3, 'three expiry warnings');
    expect(new Set(messages(log, warnLevel))).toEqual(new Set(['serving certificate expires soon']));
  });

  it('warns after reloading a certificate that expires soon', async () => {
    const files = filesFor();
    await writeFile(files.certFile, soon.certPem);
    await writeFile(files.keyFile, soon.keyPem);
    const { reloader, log } = await start(first, files, { watchFiles: false, pollIntervalMs: 0 });
    expect(log.lines).toEqual([]);

    expect(await reloader.check()).toBe('reloaded');
    expect(messages(log)).toEqual(['serving certificate reloaded', 'serving certificate expires soon']);
  });
});
