import { describe, expect, it } from 'vitest';
import type { KubeObject, Operation } from '../../admission/types.js';
import { EvaluationError } from '../../errors.js';
import { makeContext, namespace, phiNamespace } from '../../../test/support/context.js';
import { podTrafficBypass } from './traffic-bypass.js';

const image = 'registry.example.org/billing/records-api:2.4.1';

interface PodParts {
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
}

function pod({ annotations = {}, spec = { containers: [{ name: 'api', image }] } }: PodParts = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'records-api-7c9f5d-x2kq8', namespace: 'billing', labels: { app: 'records-api' }, annotations },
    spec,
  };
}

function deployment({ annotations = {}, spec = { containers: [{ name: 'api', image }] } }: PodParts = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'records-api', namespace: 'billing' },
    spec: {
      selector: { matchLabels: { app: 'records-api' } },
      template: { metadata: { labels: { app: 'records-api' }, annotations }, spec },
    },
  };
}

const sidecarNamespace = phiNamespace('billing', { 'istio-injection': 'enabled' });

function check(object: KubeObject, options: { cluster?: KubeObject[]; operation?: Operation } = {}): string[] {
  const ctx = makeContext({ object, cluster: options.cluster ?? [sidecarNamespace], operation: options.operation ?? 'CREATE' });
  return podTrafficBypass.check!(ctx);
}

function annotated(key: string, value: string): KubeObject {
  return pod({ annotations: { [key]: value } });
}

describe('pod-traffic-bypass annotations', () => {
  const prefix = 'Pod billing/records-api-7c9f5d-x2kq8 sets annotation';
  const where = 'in metadata.annotations; namespace billing holds PHI and';

  it('names the template annotation of a Deployment', () => {
    const object = deployment({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' } });
    expect(check(object)).toEqual([
      'Deployment billing/records-api sets annotation traffic.sidecar.istio.io/excludeOutboundPorts in ' +
        'spec.template.metadata.annotations; namespace billing holds PHI and outbound traffic to the listed ports ' +
        'skips the Istio proxy. Remove the annotation.',
    ]);
  });

  it.each([
    {
      key: 'traffic.sidecar.istio.io/excludeInboundPorts',
      value: '8443',
      message: 'inbound traffic to the listed ports skips the Istio proxy. Remove the annotation.',
    },
    {
      key: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
      value: '10.20.0.0/16',
      message: 'outbound traffic to the listed IP ranges skips the Istio proxy. Remove the annotation.',
    },
    {
      key: 'traffic.sidecar.istio.io/excludeInterfaces',
      value: 'net1',
      message: 'traffic on the listed network interfaces skips the Istio proxy. Remove the annotation.',
    },
    {
      key: 'traffic.sidecar.istio.io/kubevirtInterfaces',
      value: 'net1',
      message:
        "inbound traffic on the listed interfaces is treated as outbound, so the proxy's inbound mTLS and " +
        'authorization checks do not apply to it. Remove the annotation.',
    },
    {
      key: 'istio.io/reroute-virtual-interfaces',
      value: 'net1',
      message:
        "inbound traffic on the listed interfaces is treated as outbound, so the proxy's inbound mTLS and " +
        'authorization checks do not apply to it. Remove the annotation.',
    },
    {
      key: 'traffic.sidecar.istio.io/includeInboundPorts',
      value: '8080',
      message: 'inbound traffic to ports it does not list skips the Istio proxy. Remove the annotation or set it to "*".',
    },
    {
      key: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
      value: '10.96.0.0/12',
      message: 'outbound traffic to IP ranges it does not list skips the Istio proxy. Remove the annotation or set it to "*".',
    },
    {
      key: 'sidecar.istio.io/interceptionMode',
      value: 'NONE',
      message: 'interception mode NONE redirects no traffic to the Istio proxy. Remove the annotation.',
    },
    {
      key: 'proxy.istio.io/config',
      value: 'interceptionMode: NONE',
      message: 'it sets interceptionMode NONE, which redirects no traffic to the Istio proxy. Remove interceptionMode from the annotation.',
    },
    {
      key: 'proxy.istio.io/config',
      value: 'discoveryAddress: xds.example.org:15012',
      message:
        'it sets discoveryAddress, which points the Istio proxy at another discovery server that then controls its ' +
        'configuration. Remove discoveryAddress from the annotation.',
    },
    {
      key: 'sidecar.istio.io/proxyImage',
      value: 'registry.example.org/mirror/proxyv2:1.28.0',
      message: 'it replaces the Istio proxy image. Remove the annotation.',
    },
    {
      key: 'sidecar.istio.io/bootstrapOverride',
      value: 'records-api-bootstrap',
      message: 'it replaces the Envoy bootstrap configuration of the Istio proxy. Remove the annotation.',
    },
    {
      key: 'sidecar.istio.io/discoveryAddress',
      value: 'xds.example.org:15012',
      message: 'it points the Istio proxy at another discovery server, which then controls its configuration. Remove the annotation.',
    },
    {
      key: 'ambient.istio.io/bypass-inbound-capture',
      value: 'true',
      message: 'ztunnel does not capture inbound traffic to the pod, so callers reach it without mTLS. Remove the annotation.',
    },
  ])('message for $key', ({ key, value, message }) => {
    expect(check(annotated(key, value))).toEqual([`${prefix} ${key} ${where} ${message}`]);
  });

  it.each([
    { name: 'excludeInboundPorts of an app port', key: 'traffic.sidecar.istio.io/excludeInboundPorts', value: '15020,8443', found: 1 },
    { name: 'excludeInboundPorts of proxy ports', key: 'traffic.sidecar.istio.io/excludeInboundPorts', value: '15020, 15021,15090', found: 0 },
    { name: 'excludeInboundPorts of the status port', key: 'traffic.sidecar.istio.io/excludeInboundPorts', value: '15020', found: 0 },
    { name: 'empty excludeInboundPorts', key: 'traffic.sidecar.istio.io/excludeInboundPorts', value: '', found: 0 },
    { name: 'excludeOutboundPorts', key: 'traffic.sidecar.istio.io/excludeOutboundPorts', value: '5432,6379', found: 1 },
    { name: 'excludeOutboundPorts of 15020', key: 'traffic.sidecar.istio.io/excludeOutboundPorts', value: '15020', found: 1 },
    { name: 'empty excludeOutboundIPRanges', key: 'traffic.sidecar.istio.io/excludeOutboundIPRanges', value: ' ', found: 0 },
    { name: 'includeInboundPorts "*"', key: 'traffic.sidecar.istio.io/includeInboundPorts', value: '*', found: 0 },
    { name: 'includeInboundPorts " * "', key: 'traffic.sidecar.istio.io/includeInboundPorts', value: ' * ', found: 0 },
    { name: 'empty includeInboundPorts', key: 'traffic.sidecar.istio.io/includeInboundPorts', value: '', found: 1 },
    { name: 'includeOutboundIPRanges "*"', key: 'traffic.sidecar.istio.io/includeOutboundIPRanges', value: '*', found: 0 },
    { name: 'empty includeOutboundIPRanges', key: 'traffic.sidecar.istio.io/includeOutboundIPRanges', value: '', found: 1 },
    { name: 'includeOutboundPorts', key: 'traffic.sidecar.istio.io/includeOutboundPorts', value: '5432', found: 0 },
    { name: 'interceptionMode REDIRECT', key: 'sidecar.istio.io/interceptionMode', value: 'REDIRECT', found: 0 },
    { name: 'interceptionMode TPROXY', key: 'sidecar.istio.io/interceptionMode', value: 'TPROXY', found: 0 },
    { name: 'interceptionMode none', key: 'sidecar.istio.io/interceptionMode', value: 'none', found: 1 },
    { name: 'proxy config hold', key: 'proxy.istio.io/config', value: 'holdApplicationUntilProxyStarts: true', found: 0 },
    { name: 'proxy config REDIRECT', key: 'proxy.istio.io/config', value: 'interceptionMode: REDIRECT', found: 0 },
    { name: 'proxy config JSON', key: 'proxy.istio.io/config', value: '{"holdApplicationUntilProxyStarts":true,"interceptionMode":"NONE"}', found: 1 },
    { name: 'proxy config second line', key: 'proxy.istio.io/config', value: 'holdApplicationUntilProxyStarts: true\ninterceptionMode: "NONE"\n', found: 1 },
    { name: 'proxy config snake case', key: 'proxy.istio.io/config', value: 'interception_mode: NONE', found: 1 },
    { name: 'proxy config enum number', key: 'proxy.istio.io/config', value: '{"interceptionMode": 2}', found: 1 },
    { name: 'proxy config metadata', key: 'proxy.istio.io/config', value: 'proxyMetadata:\n  APP_interceptionMode: NONE', found: 0 },
    { name: 'proxy config JSON discovery', key: 'proxy.istio.io/config', value: '{"discovery_address": "xds.example.org:15012"}', found: 1 },
    { name: 'proxy config env named like it', key: 'proxy.istio.io/config', value: 'proxyMetadata:\n  DISCOVERY_ADDRESS_HINT: a', found: 0 },
    { name: 'proxy config port 20', key: 'proxy.istio.io/config', value: 'interceptionMode: 20', found: 0 },
    { name: 'ambient bypass "True"', key: 'ambient.istio.io/bypass-inbound-capture', value: 'True', found: 1 },
    { name: 'ambient bypass "false"', key: 'ambient.istio.io/bypass-inbound-capture', value: 'false', found: 0 },
    { name: 'proxy resources', key: 'sidecar.istio.io/proxyCPU', value: '100m', found: 0 },
    { name: 'unrelated annotation', key: 'prometheus.io/scrape', value: 'true', found: 0 },
  ])('$name', ({ key, value, found }) => {
    expect(check(annotated(key, value))).toHaveLength(found);
  });

  it('never puts the annotation value in the message', () => {
    const value = 'interceptionMode: NONE\nproxyMetadata:\n  UPSTREAM_TOKEN: c2VjcmV0LXZhbHVl\n';
    const [message] = check(annotated('proxy.istio.io/config', value));
    expect(message).toBeDefined();
    expect(message).not.toContain('c2VjcmV0LXZhbHVl');
    expect(message).not.toContain('UPSTREAM_TOKEN');
  });

  it('reports each annotation once', () => {
    const object = deployment({
      annotations: {
        'traffic.sidecar.istio.io/excludeOutboundPorts': '5432',
        'traffic.sidecar.istio.io/excludeOutboundIPRanges': '169.254.169.254/32',
        'sidecar.istio.io/proxyImage': 'registry.example.org/mirror/proxyv2:1.28.0',
      },
    });
    expect(check(object)).toHaveLength(3);
  });

  it('applies in ambient namespaces', () => {
    const cluster = [phiNamespace('billing', { 'istio.io/dataplane-mode': 'ambient' })];
    expect(check(annotated('ambient.istio.io/bypass-inbound-capture', 'true'), { cluster })).toHaveLength(1);
  });

  it('passes a pod as Istio injects it with CNI', () => {
    const injected = pod({
      annotations: {
        'sidecar.istio.io/status': '{"initContainers":["istio-validation"],"containers":["istio-proxy"]}',
        'sidecar.istio.io/interceptionMode': 'REDIRECT',
        'traffic.sidecar.istio.io/includeInboundPorts': '*',
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '*',
        'traffic.sidecar.istio.io/excludeInboundPorts': '15020',
        'kubectl.kubernetes.io/default-container': 'api',
      },
      spec: {
        initContainers: [
          { name: 'istio-validation', image: 'docker.io/istio/proxyv2:1.28.0', securityContext: { runAsUser: 1337, runAsGroup: 1337 } },
        ],
        containers: [
          { name: 'api', image },
          { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0', securityContext: { runAsUser: 1337, runAsGroup: 1337 } },
        ],
      },
    });
    expect(check(injected)).toEqual([]);
  });

  it('ignores namespaces without PHI', () => {
    const object = annotated('traffic.sidecar.istio.io/excludeOutboundPorts', '5432');
    expect(check(object, { cluster: [namespace('billing')] })).toEqual([]);
  });
});

describe('pod-traffic-bypass proxy UID and GID', () => {
  it('names the container field', () => {
    const object = pod({ spec: { containers: [{ name: 'api', image, securityContext: { runAsUser: 1337 } }] } });
    expect(check(object)).toEqual([
      'Pod billing/records-api-7c9f5d-x2kq8 sets spec.containers[0].securityContext.runAsUser to 1337 for container ' +
        "api; namespace billing holds PHI and istio-iptables does not redirect traffic from the proxy's UID 1337, so " +
        "this container's traffic bypasses the Istio proxy. Run the container with another UID.",
    ]);
  });

  it('names the inherited pod-level group', () => {
    const object = deployment({
      spec: { securityContext: { runAsGroup: 1337 }, containers: [{ name: 'api', image }] },
    });
    expect(check(object)).toEqual([
      'Deployment billing/records-api sets spec.template.spec.securityContext.runAsGroup to 1337, which container ' +
        'api (spec.template.spec.containers[0]) inherits; namespace billing holds PHI and istio-iptables does not ' +
        "redirect traffic from the proxy's GID 1337, so this container's traffic bypasses the Istio proxy. Run the " +
        'container with another GID.',
    ]);
  });

  const sidecarAlways = { restartPolicy: 'Always' };

  it.each([
    { name: 'pod-level UID for two containers', spec: { securityContext: { runAsUser: 1337 }, containers: [{ name: 'api' }, { name: 'worker' }] }, found: 2 },
    { name: 'pod-level UID overridden', spec: { securityContext: { runAsUser: 1337 }, containers: [{ name: 'api', securityContext: { runAsUser: 10001 } }] }, found: 0 },
    { name: 'UID and GID', spec: { containers: [{ name: 'api', securityContext: { runAsUser: 1337, runAsGroup: 1337 } }] }, found: 2 },
    { name: 'own GID beside pod UID', spec: { securityContext: { runAsUser: 1337 }, containers: [{ name: 'api', securityContext: { runAsGroup: 1337 } }] }, found: 2 },
    { name: 'other UID', spec: { containers: [{ name: 'api', securityContext: { runAsUser: 1338, runAsGroup: 1000 } }] }, found: 0 },
    { name: 'no security context', spec: { containers: [{ name: 'api' }] }, found: 0 },
    { name: 'ordinary init container', spec: { initContainers: [{ name: 'fetch-schema', securityContext: { runAsUser: 1337 } }], containers: [{ name: 'api' }] }, found: 0 },
    { name: 'init container inheriting', spec: { securityContext: { runAsUser: 1337 }, initContainers: [{ name: 'fetch-schema' }], containers: [{ name: 'api', securityContext: { runAsUser: 10001 } }] }, found: 0 },
    { name: 'native sidecar', spec: { initContainers: [{ name: 'log-shipper', ...sidecarAlways, securityContext: { runAsUser: 1337 } }], containers: [{ name: 'api' }] }, found: 1 },
    { name: 'istio-proxy container', spec: { containers: [{ name: 'api' }, { name: 'istio-proxy', securityContext: { runAsUser: 1337 } }] }, found: 0 },
    { name: 'istio-proxy native sidecar', spec: { initContainers: [{ name: 'istio-proxy', ...sidecarAlways, securityContext: { runAsUser: 1337, runAsGroup: 1337 } }], containers: [{ name: 'api' }] }, found: 0 },
    { name: 'ephemeral container', spec: { containers: [{ name: 'api' }], ephemeralContainers: [{ name: 'debugger', securityContext: { runAsUser: 1337 } }] }, found: 1 },
  ])('$name', ({ spec, found }) => {
    expect(check(pod({ spec }))).toHaveLength(found);
  });

  it.each([
    { name: 'runAsUser a string', spec: { containers: [{ name: 'api', securityContext: { runAsUser: '1337' } }] }, message: 'spec.containers[0].securityContext.runAsUser must be an integer, found a string' },
    { name: 'runAsGroup a fraction', spec: { containers: [{ name: 'api', securityContext: { runAsGroup: 1337.5 } }] }, message: 'spec.containers[0].securityContext.runAsGroup must be an integer, found 1337.5' },
    { name: 'container securityContext a list', spec: { containers: [{ name: 'api', securityContext: [] }] }, message: 'spec.containers[0].securityContext must be an object, found a list' },
    { name: 'pod securityContext a string', spec: { securityContext: 'restricted', containers: [{ name: 'api' }] }, message: 'spec.securityContext must be an object, found a string' },
    { name: 'restartPolicy a boolean', spec: { initContainers: [{ name: 'log-shipper', restartPolicy: true }], containers: [{ name: 'api' }] }, message: 'spec.initContainers[0].restartPolicy must be a string, found a boolean' },
    { name: 'containers an object', spec: { containers: { name: 'api' } }, message: 'spec.containers must be a list' },
  ])('raises EvaluationError for $name', ({ spec, message }) => {
    expect(() => check(pod({ spec }))).toThrow(EvaluationError);
    expect(() => check(pod({ spec }))).toThrow(message);
  });
});

describe('pod-traffic-bypass ephemeral containers', () => {
  function debugUpdate(oldEphemeral: object[], newEphemeral: object[], podSecurity: object = {}) {
    const spec = (ephemeralContainers: object[]) => ({ securityContext: podSecurity, containers: [{ name: 'api', image }], ephemeralContainers });
    const object = pod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' }, spec: spec(newEphemeral) });
    const oldObject = pod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' }, spec: spec(oldEphemeral) });
    return makeContext({
      object,
      oldObject,
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
      cluster: [sidecarNamespace],
    });
  }

  const debugger1337 = { name: 'debugger-7xk2p', image: 'busybox:1.37', securityContext: { runAsUser: 1337 } };
  const debuggerPlain = { name: 'debugger-q9v4d', image: 'busybox:1.37' };

  it.each([
    { name: 'new container as 1337', old: [], added: [debugger1337], podSecurity: {}, found: 1 },
    { name: 'new container inheriting 1337', old: [], added: [debuggerPlain], podSecurity: { runAsUser: 1337 }, found: 1 },
    { name: 'only the earlier container as 1337', old: [debugger1337], added: [debugger1337, debuggerPlain], podSecurity: {}, found: 0 },
    { name: 'plain new container', old: [], added: [debuggerPlain], podSecurity: {}, found: 0 },
  ])('$name', ({ old, added, podSecurity, found }) => {
    const ctx = debugUpdate(old, added, podSecurity);
    expect(podTrafficBypass.matches(ctx)).toBe(true);
    expect(podTrafficBypass.check!(ctx)).toHaveLength(found);
  });

  it('names the ephemeral container', () => {
    expect(podTrafficBypass.check!(debugUpdate([], [debugger1337]))[0]).toMatch(
      /^Pod billing\/records-api-7c9f5d-x2kq8 sets spec\.ephemeralContainers\[0\]\.securityContext\.runAsUser to 1337 for container debugger-7xk2p;/,
    );
  });
});

describe('pod-traffic-bypass matches', () => {
  it.each([
    { name: 'Pod CREATE', object: pod(), operation: 'CREATE' as const, subResource: undefined, expected: true },
    { name: 'Pod UPDATE', object: pod(), operation: 'UPDATE' as const, subResource: undefined, expected: false },
    { name: 'Pod status UPDATE', object: pod(), operation: 'UPDATE' as const, subResource: 'status', expected: false },
    { name: 'Deployment UPDATE', object: deployment(), operation: 'UPDATE' as const, subResource: undefined, expected: true },
    { name: 'Deployment scale', object: deployment(), operation: 'UPDATE' as const, subResource: 'scale', expected: false },
  ])('$name: $expected', ({ object, operation, subResource, expected }) => {
    const ctx = makeContext({ object, operation, ...(subResource === undefined ? {} : { subResource }) });
    expect(podTrafficBypass.matches(ctx)).toBe(expected);
  });
});
