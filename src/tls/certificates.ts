import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertificateSet {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface CertificateRequest {
  /** Subject alternative names of type DNS, such as `phi-mesh-guard.phi-mesh-guard.svc`. */
  dnsNames: readonly string[];
  ipAddresses?: readonly string[];
  validityDays: number;
  caCommonName?: string;
}

const dayMs = 24 * 60 * 60 * 1000;

/** How far notBefore is set in the past, so a peer whose clock runs a little slow accepts a new certificate. */
const clockSkewMs = 5 * 60 * 1000;

/**
 * Creates a CA and a serving certificate signed by it, both valid from five minutes
 * ago until `validityDays` days from now. RSA keys come from Node's native
 * generator, because node-forge's pure-JavaScript one takes seconds; node-forge
 * builds and signs the X.509 certificates. PEM text uses LF line endings.
 */
export function createCertificateSet(request: CertificateRequest): CertificateSet {
  if (request.dnsNames.length === 0 && (request.ipAddresses ?? []).length === 0) {
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  }
  const issuedAt = Date.now();
  const notBefore = new Date(issuedAt - clockSkewMs);
  const notAfter = new Date(issuedAt + request.validityDays * dayMs);

  const caKeys = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serialNumber();
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caSubject = [{ name: 'commonName', value: request.caCommonName ?? 'phi-mesh-guard webhook CA' }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: request.dnsNames[0] ?? request.ipAddresses![0]! }]);
  cert.setIssuer(caSubject);
  const altNames = [
    ...request.dnsNames.map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCertPem: withLineFeeds(forge.pki.certificateToPem(caCert)),
    caKeyPem: withLineFeeds(forge.pki.privateKeyToPem(caKeys.privateKey)),
    certPem: withLineFeeds(forge.pki.certificateToPem(cert)),
    keyPem: withLineFeeds(forge.pki.privateKeyToPem(keys.privateKey)),
    notAfter,
  };
}

/**
 * Returns the DNS names through which the API server reaches a webhook Service:
 * `NAME`, `NAME.NAMESPACE`, `NAME.NAMESPACE.svc` and `NAME.NAMESPACE.svc.CLUSTER_DOMAIN`.
 * The API server itself connects to `NAME.NAMESPACE.svc`.
 */
export function serviceDnsNames(service: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

/**
 * Returns the notAfter date of the first certificate in a PEM text. Node's X.509
 * parser reads RSA and ECDSA certificates alike, where node-forge reads only RSA.
 */
export function certificateExpiry(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}

/** node-forge writes PEM with CRLF line endings. */
function withLineFeeds(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

function rsaKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

/** A positive 128-bit serial number in hex, as RFC 5280 allows up to 20 octets. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString('hex');
}
