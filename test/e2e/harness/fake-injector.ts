import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { createCertificateSet } from '../../../src/tls/certificates.js';

/**
 * A test-only stand-in for Istio's sidecar injector, because no Istio runs in
 * the end-to-end suite. It selects pods as Istio's `istio-sidecar-injector`
 * configuration does in its namespace-label webhook (namespace label
 * `istio-injection: enabled`, pods not labelled `sidecar.istio.io/inject:
 * "false"`), and it changes them in the two ways the guard's validation looks
 * at: an `istio-proxy` container and the `sidecar.istio.io/status` annotation.
 * It adds no init container, volumes or proxy configuration.
 */
export interface FakeInjector {
  url: string;
  caPem: string;
  /** Number of AdmissionReviews answered. */
  calls(): number;
  close(): Promise<void>;
}

export const injectorConfigurationName = 'istio-sidecar-injector';
const proxyImage = 'docker.io/istio/proxyv2:1.28.0';

export async function startFakeInjector(): Promise<FakeInjector> {
  const certificates = createCertificateSet({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1, caCommonName: 'fake istio injector CA' });
  let calls = 0;
  const server: Server = createServer({ cert: certificates.certPem, key: certificates.keyPem }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      calls += 1;
      let review: { request?: { uid?: string; object?: PodShape } };
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof review;
      } catch {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('the body is not JSON');
        return;
      }
      const uid = review.request?.uid ?? '';
      const patch = injectionPatch(review.request?.object);
      const answer = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid,
          allowed: true,
          ...(patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
        },
      };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/inject`,
    caPem: certificates.caCertPem,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface PodShape {
  metadata?: { annotations?: Record<string, string> };
  spec?: { containers?: { name?: string }[] };
}

/** The JSON patch that adds the proxy container and the status annotation, unless the pod has a proxy already. */
function injectionPatch(pod: PodShape | undefined): object[] {
  if (pod === undefined || (pod.spec?.containers ?? []).some((container) => container.name === 'istio-proxy')) {
    return [];
  }
  const status = JSON.stringify({ initContainers: [], containers: ['istio-proxy'], volumes: [], imagePullSecrets: [], revision: 'default' });
  const patch: object[] = [{ op: 'add', path: '/spec/containers/-', value: { name: 'istio-proxy', image: proxyImage, args: ['proxy', 'sidecar'] } }];
  if (pod.metadata?.annotations === undefined) {
    patch.push({ op: 'add', path: '/metadata/annotations', value: { 'sidecar.istio.io/status': status } });
  } else {
    patch.push({ op: 'add', path: '/metadata/annotations/sidecar.istio.io~1status', value: status });
  }
  return patch;
}

/**
 * The MutatingWebhookConfiguration that sends pods to the fake injector. Its
 * name sorts before `phi-mesh-guard`, so the API server calls it first, as it
 * calls Istio's injector first in a real cluster.
 */
export function injectorWebhookConfiguration(injector: FakeInjector): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: injectorConfigurationName },
    webhooks: [
      {
        name: 'namespace.sidecar-injector.istio.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        timeoutSeconds: 10,
        clientConfig: { url: injector.url, caBundle: Buffer.from(injector.caPem).toString('base64') },
        namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } },
        objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: '*' }],
      },
    ],
  };
}
