import type { Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateSet, serviceDnsNames } from '../../src/tls/certificates.js';
import { closeServer, getOverTls, startHttpsServer } from './https-client.js';

const dnsNames = serviceDnsNames('phi-mesh-guard', 'guard-system');
const set = createCertificateSet({ dnsNames, validityDays: 30 });
const otherCa = createCertificateSet({ dnsNames, validityDays: 30 }).caCertPem;

let server: Server;
let port: number;

beforeAll(async () => {
  ({ server, port } = await startHttpsServer(set.certPem, set.keyPem));
});

afterAll(async () => {
  await closeServer(server);
});

describe('serving certificate for a webhook Service', () => {
  it.each(dnsNames.map((name) => ({ name })))('verifies as $name', async ({ name }) => {
    const result = await getOverTls(port, { servername: name, ca: set.caCertPem });
    expect(result.status).toBe(200);
    expect(result.body).toBe('ok');
  });

  it.each([
    { name: 'another Service', servername: 'records-api.guard-system.svc' },
    { name: 'another namespace', servername: 'phi-mesh-guard.patient-records.svc' },
    { name: 'another cluster domain', servername: 'phi-mesh-guard.guard-system.svc.hospital.internal' },
    { name: 'a subdomain of a listed name', servername: 'x.phi-mesh-guard.guard-system.svc' },
    { name: 'the bare IP address', servername: undefined },
  ])('fails verification for $name', async ({ servername }) => {
    await expect(getOverTls(port, { ...(servername !== undefined ? { servername } : {}), ca: set.caCertPem })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('fails verification against another CA', async () => {
    await expect(getOverTls(port, { servername: dnsNames[2], ca: otherCa })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });
});
