import { isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import { describeType, optionalMap } from '../../engine/object.js';
import { containersOf, fieldPath, isPodCreateOrWorkloadWrite, podShapeOf, type ContainerEntry, type PodShape } from '../../engine/pod-template.js';
import { EvaluationError } from '../../errors.js';
import type { Rule } from '../rule.js';
import { isNativeSidecar, proxyContainerName } from './istio-pod.js';

/**
 * Rejects annotations that keep traffic away from the Istio proxy or replace the proxy,
 * and application containers that run as the proxy's UID or GID. Each annotation's
 * effect is documented in istio/api annotation/annotations.yaml. Messages name the
 * annotation key, never its value.
 */
export const podTrafficBypass: Rule = {
  id: 'pod-traffic-bypass',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: 'Pods and pod templates in PHI namespaces must not exclude traffic from the Istio proxy or replace the proxy.',
  stages: ['validate', 'offline'],

  matches(ctx) {
    return isPodCreateOrWorkloadWrite(ctx) || isEphemeralContainersUpdate(ctx);
  },

  check(ctx) {
    if (!isPhiNamespace(ctx)) {
      return [];
    }
    const shape = podShapeOf(ctx.kind, ctx.object);
    if (shape === undefined) {
      return [];
    }
    const subject = `${ctx.kind} ${objectRef(ctx)}`;

    // Debug containers arrive through their own subresource after the pod was admitted,
    // and the pod's other fields cannot change there, so only the ephemeral containers
    // that this request adds are checked.
    if (isEphemeralContainersUpdate(ctx)) {
      const existing = ephemeralNamesOf(podShapeOf(ctx.kind, ctx.oldObject));
      const added = containersOf(shape).filter((entry) => entry.list === 'ephemeralContainers' && !existing.has(entry.name));
      return proxyIdentityFindings(subject, ctx.namespace, shape, added);
    }

    return [
      ...annotationFindings(subject, ctx.namespace, shape),
      ...proxyIdentityFindings(subject, ctx.namespace, shape, applicationContainersOf(shape)),
    ];
  },
};

function isEphemeralContainersUpdate(ctx: Pick<EvaluationContext, 'group' | 'kind' | 'operation' | 'subResource'>): boolean {
  return ctx.group === '' && ctx.kind === 'Pod' && ctx.operation === 'UPDATE' && ctx.subResource === 'ephemeralcontainers';
}

/** The effect of a rejected annotation and its fix, for the message. */
interface AnnotationFinding {
  effect: string;
  fix: string;
}

const removeAnnotation = 'Remove the annotation.';

/**
 * Annotations that exclude traffic from capture whenever they list anything.
 * NOTE: with Istio CNI the injector copies mesh-wide exclusions (Helm values
 * global.proxy.excludeOutboundPorts, excludeIPRanges, excludeInboundPorts) onto each pod
 * as these annotations, so at the validating endpoint such a mesh setting is reported
 * on every pod in a PHI namespace.
 */
const exclusionEffects: Readonly<Record<string, string>> = {
  'traffic.sidecar.istio.io/excludeInboundPorts': 'inbound traffic to the listed ports skips the Istio proxy',
  'traffic.sidecar.istio.io/excludeOutboundPorts': 'outbound traffic to the listed ports skips the Istio proxy',
  'traffic.sidecar.istio.io/excludeOutboundIPRanges': 'outbound traffic to the listed IP ranges skips the Istio proxy',
  'traffic.sidecar.istio.io/excludeInterfaces': 'traffic on the listed network interfaces skips the Istio proxy',
  'traffic.sidecar.istio.io/kubevirtInterfaces':
    "inbound traffic on the listed interfaces is treated as outbound, so the proxy's inbound mTLS and authorization checks do not apply to it",
  'istio.io/reroute-virtual-interfaces':
    "inbound traffic on the listed interfaces is treated as outbound, so the proxy's inbound mTLS and authorization checks do not apply to it",
};

/**
 * Ports that belong to the proxy itself: 15020 (pilot-agent status and merged metrics),
 * 15021 (health) and 15090 (Envoy metrics). With Istio CNI the injector writes
 * excludeInboundPorts with the status port onto every pod (istio
 * injection-template.yaml, `excludeInboundPort`), and istio-iptables always excludes
 * 15090 and 15021, so a list of only these ports bypasses nothing.
 */
const proxyOwnPorts: ReadonlySet<string> = new Set(['15020', '15021', '15090']);

/** Annotations that narrow capture to what they list; only `*` captures everything, and an empty value captures nothing. */
const inclusionEffects: Readonly<Record<string, string>> = {
  'traffic.sidecar.istio.io/includeInboundPorts': 'inbound traffic to ports it does not list skips the Istio proxy',
  'traffic.sidecar.istio.io/includeOutboundIPRanges': 'outbound traffic to IP ranges it does not list skips the Istio proxy',
};
// `traffic.sidecar.istio.io/includeOutboundPorts` is accepted: it only adds ports that are
// redirected regardless of the destination IP, so it widens capture and never narrows it.

/** Annotations that replace the proxy or its configuration source whatever their value. */
const proxyOverrideEffects: Readonly<Record<string, string>> = {
  'sidecar.istio.io/proxyImage': 'it replaces the Istio proxy image',
  'sidecar.istio.io/bootstrapOverride': 'it replaces the Envoy bootstrap configuration of the Istio proxy',
  'sidecar.istio.io/discoveryAddress': 'it points the Istio proxy at another discovery server, which then controls its configuration',
};

const interceptionModeKey = 'sidecar.istio.io/interceptionMode';
const proxyConfigKey = 'proxy.istio.io/config';
const ambientBypassKey = 'ambient.istio.io/bypass-inbound-capture';

/**
 * Matches `interceptionMode: NONE` in a ProxyConfig written as YAML or JSON. The proto
 * JSON reader also takes the field name `interception_mode` and the enum number 2
 * (istio/api mesh/v1alpha1/proxy.proto, InboundInterceptionMode NONE = 2).
 */
const interceptionNonePattern = /(?:^|[\s{,])["']?interception(?:Mode|_mode)["']?\s*:\s*["']?(?:NONE|2)(?![\w.])/m;

/**
 * Matches a `discoveryAddress` key in a ProxyConfig, which points the proxy at another
 * discovery server just as the `sidecar.istio.io/discoveryAddress` annotation does
 * (istio/api mesh/v1alpha1/proxy.proto, ProxyConfig.discovery_address).
 */
const discoveryAddressPattern = /(?:^|[\s{,])["']?discovery(?:Address|_address)["']?\s*:/m;

/** Values Go's strconv.ParseBool reads as true, so any reading of the flag counts. */
const trueValues: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

function annotationFindings(subject: string, namespace: string, shape: PodShape): string[] {
  const annotationsPath = fieldPath(shape, 'metadata.annotations');
  const messages: string[] = [];
  for (const [key, value] of Object.entries(shape.annotations)) {
    const finding = findingFor(key, value);
    if (finding !== undefined) {
      messages.push(
        `${subject} sets annotation ${key} in ${annotationsPath}; namespace ${namespace} holds PHI and ` +
          `${finding.effect}. ${finding.fix}`,
      );
    }
  }
  return messages;
}

function findingFor(key: string, value: string): AnnotationFinding | undefined {
  const exclusion = exclusionEffects[key];
  if (exclusion !== undefined) {
    return excludesTraffic(key, value) ? { effect: exclusion, fix: removeAnnotation } : undefined;
  }
  const inclusion = inclusionEffects[key];
  if (inclusion !== undefined) {
    return value.trim() === '*' ? undefined : { effect: inclusion, fix: 'Remove the annotation or set it to "*".' };
  }
  const override = proxyOverrideEffects[key];
  if (override !== undefined) {
    return { effect: override, fix: removeAnnotation };
  }
  if (key === interceptionModeKey && value.trim().toUpperCase() === 'NONE') {
    return { effect: 'interception mode NONE redirects no traffic to the Istio proxy', fix: removeAnnotation };
  }
  if (key === proxyConfigKey) {
    return proxyConfigFinding(value);
  }
  if (key === ambientBypassKey && trueValues.has(value.trim())) {
    return { effect: 'ztunnel does not capture inbound traffic to the pod, so callers reach it without mTLS', fix: removeAnnotation };
  }
  return undefined;
}

/**
 * proxy.istio.io/config also carries legitimate settings such as
 * holdApplicationUntilProxyStarts, so only the settings that bypass or replace the
 * proxy's configuration source are rejected.
 */
function proxyConfigFinding(value: string): AnnotationFinding | undefined {
  if (interceptionNonePattern.test(value)) {
    return {
      effect: 'it sets interceptionMode NONE, which redirects no traffic to the Istio proxy',
      fix: 'Remove interceptionMode from the annotation.',
    };
  }
  if (discoveryAddressPattern.test(value)) {
    return {
      effect: 'it sets discoveryAddress, which points the Istio proxy at another discovery server that then controls its configuration',
      fix: 'Remove discoveryAddress from the annotation.',
    };
  }
  return undefined;
}

/** False when the comma-separated list is empty, or lists only the proxy's own inbound ports. */
function excludesTraffic(key: string, value: string): boolean {
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (key === 'traffic.sidecar.istio.io/excludeInboundPorts') {
    return entries.some((port) => !proxyOwnPorts.has(port));
  }
  return entries.length > 0;
}

/**
 * Regular, ephemeral and native sidecar containers, except the proxy itself. Ordinary
 * init containers are left out on purpose: they finish before a classic sidecar starts,
 * and Istio's CNI guide recommends `runAsUser: 1337` for init containers that need the
 * network then (istio.io docs/setup/additional-setup/cni, init containers section).
 */
function applicationContainersOf(shape: PodShape): ContainerEntry[] {
  return containersOf(shape).filter((entry) => {
    if (entry.name === proxyContainerName) {
      return false;
    }
    return entry.list !== 'initContainers' || isNativeSidecar(entry.container, entry.path);
  });
}

function ephemeralNamesOf(shape: PodShape | undefined): Set<string> {
  const names = new Set<string>();
  if (shape !== undefined) {
    for (const entry of containersOf(shape)) {
      if (entry.list === 'ephemeralContainers') {
        names.add(entry.name);
      }
    }
  }
  return names;
}

/**
 * The UID and GID of Istio's proxy. The injector passes `-u 1337` to istio-iptables and
 * runs istio-proxy as UID and GID 1337 (istio injection-template.yaml).
 */
const proxyIdentity = 1337;

const identityFields = [
  { field: 'runAsUser', noun: 'UID' },
  { field: 'runAsGroup', noun: 'GID' },
] as const;

/**
 * istio-iptables returns traffic owned by the proxy's UID or GID before the redirect
 * (istio tools/istio-iptables/pkg/cmd/root.go), so a container running as 1337 sends
 * its traffic around the proxy. A container inherits the pod-level value unless it sets
 * its own.
 */
function proxyIdentityFindings(subject: string, namespace: string, shape: PodShape, containers: readonly ContainerEntry[]): string[] {
  if (containers.length === 0) {
    return [];
  }
  const podContextPath = fieldPath(shape, 'spec.securityContext');
  const podContext = optionalMap(shape.spec.securityContext, podContextPath);
  const messages: string[] = [];

  for (const entry of containers) {
    const contextPath = `${entry.path}.securityContext`;
    const context = optionalMap(entry.container.securityContext, contextPath);
    for (const { field, noun } of identityFields) {
      const own = optionalInteger(context?.[field], `${contextPath}.${field}`);
      const inherited = own === undefined ? optionalInteger(podContext?.[field], `${podContextPath}.${field}`) : undefined;
      if (own !== proxyIdentity && inherited !== proxyIdentity) {
        continue;
      }
      const source =
        own === proxyIdentity
          ? `sets ${contextPath}.${field} to ${proxyIdentity} for container ${entry.name}`
          : `sets ${podContextPath}.${field} to ${proxyIdentity}, which container ${entry.name} (${entry.path}) inherits`;
      messages.push(
        `${subject} ${source}; namespace ${namespace} holds PHI and istio-iptables does not redirect traffic ` +
          `from the proxy's ${noun} ${proxyIdentity}, so this container's traffic bypasses the Istio proxy. ` +
          `Run the container with another ${noun}.`,
      );
    }
  }
  return messages;
}

function optionalInteger(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    const found = typeof value === 'number' ? String(value) : describeType(value);
    throw new EvaluationError(`${path} must be an integer, found ${found}`);
  }
  return value;
}

