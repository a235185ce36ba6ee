import { describePhiNamespaces as describeNamespaces, phiNamespaceNames } from '../phi-namespaces.js';
import { isPhiNamespace, objectRef, type EvaluationContext } from '../../engine/context.js';
import { describeType, optionalList, optionalMap, optionalString, requiredMap, type JsonMap } from '../../engine/object.js';
import { EvaluationError } from '../../errors.js';
import type { Rule } from '../rule.js';
import { resolveHostScope } from './host-scope.js';

/** Maximum number of PHI namespaces a message lists before it adds "and N more". */

/** One `tls` block of the rule, with its path for errors and its label for messages. */
interface TlsSetting {
  /** Field path such as `spec.subsets[1].trafficPolicy.portLevelSettings[0].tls`. */
  path: string;
  /** The path with the subset name and port number added, for messages. */
  label: string;
  tls: JsonMap;
}

/**
 * Without a `tls` block a sidecar sends Istio mTLS to in-mesh endpoints (auto mTLS).
 * An explicit block replaces that: istiod uses `DISABLE`, `SIMPLE` and `MUTUAL` as
 * written (istio pilot/pkg/networking/core/cluster_tls.go, buildUpstreamTLSSettings),
 * and a block without `mode` is `DISABLE`, the proto default (istio/api
 * networking/v1alpha3/destination_rule.proto, ClientTLSSettings.TLSmode).
 *
 * A `portLevelSettings` entry replaces the rule's traffic policy for its port instead
 * of inheriting from it (destination_rule.proto, TrafficPolicy.port_level_settings), so
 * a port entry without `tls` falls back to auto mTLS and passes, even under a
 * top-level DISABLE. Subset policies count although they only apply when a route
 * sends traffic to the subset.
 */
export const drMtlsRequired: Rule = {
  id: 'dr-mtls-required',
  severity: 'critical',
  controls: ['164.312(e)(1)'],
  summary: 'DestinationRules for hosts in PHI namespaces must not replace Istio mTLS with plaintext or user TLS.',
  stages: ['validate', 'offline'],

  matches(ctx) {
    return (
      ctx.group === 'networking.istio.io' &&
      ctx.kind === 'DestinationRule' &&
      ctx.subResource === '' &&
      (ctx.operation === 'CREATE' || ctx.operation === 'UPDATE')
    );
  },

  check(ctx) {
    const spec = optionalMap(ctx.object?.spec, 'spec') ?? {};
    const host = optionalString(spec.host, 'spec.host');
    if (host === undefined || host === '') {
      throw new EvaluationError('spec.host is missing');
    }

    const reach = describeReach(ctx, host);
    if (reach === undefined) {
      return [];
    }

    const messages: string[] = [];
    for (const setting of tlsSettingsOf(spec)) {
      const problem = describeTlsProblem(setting);
      if (problem !== undefined) {
        messages.push(
          `DestinationRule ${objectRef(ctx)} for host ${host} ${problem}. ` +
            `The host reaches ${reach}, where traffic requires Istio mTLS. ` +
            `Set ${setting.label}.mode to ISTIO_MUTUAL, or remove ${setting.label} so that Istio's automatic mTLS applies.`,
        );
      }
    }
    return messages;
  },
};

/** Names the PHI namespaces `host` reaches, or returns `undefined` when it reaches none. */
function describeReach(ctx: EvaluationContext, host: string): string | undefined {
  const scope = resolveHostScope(host, ctx.namespace, ctx.config.clusterDomain);
  switch (scope.kind) {
    case 'external':
      return undefined;

    case 'namespace':
      return isPhiNamespace(ctx, scope.namespace) ? `PHI namespace ${scope.namespace}` : undefined;

    case 'every-namespace': {
      const names = phiNamespaceNames(ctx);
      if (names.length === 0) {
        return undefined;
      }
      return `every namespace, including ${describeNamespaces(names)}`;
    }
  }
}

/** Collects every `tls` block: top level, per port, per subset and per subset port. */
function tlsSettingsOf(spec: JsonMap): TlsSetting[] {
  const settings: TlsSetting[] = [];
  collectPolicy(optionalMap(spec.trafficPolicy, 'spec.trafficPolicy'), 'spec.trafficPolicy', 'spec.trafficPolicy', settings);

  optionalList(spec.subsets, 'spec.subsets').forEach((item, index) => {
    const path = `spec.subsets[${index}]`;
    const subset = requiredMap(item, path);
    const name = optionalString(subset.name, `${path}.name`);
    const label = name === undefined ? path : `${path} (subset ${name})`;
    const policyPath = `${path}.trafficPolicy`;
    collectPolicy(optionalMap(subset.trafficPolicy, policyPath), policyPath, `${label}.trafficPolicy`, settings);
  });
  return settings;
}

function collectPolicy(policy: JsonMap | undefined, path: string, label: string, settings: TlsSetting[]): void {
  if (policy === undefined) {
    return;
  }
  const tls = optionalMap(policy.tls, `${path}.tls`);
  if (tls !== undefined) {
    settings.push({ path: `${path}.tls`, label: `${label}.tls`, tls });
  }

  optionalList(policy.portLevelSettings, `${path}.portLevelSettings`).forEach((item, index) => {
    const portPath = `${path}.portLevelSettings[${index}]`;
    const entry = requiredMap(item, portPath);
    const portTls = optionalMap(entry.tls, `${portPath}.tls`);
    if (portTls === undefined) {
      return;
    }
    const port = portNumberOf(entry, portPath);
    const portLabel = `${label}.portLevelSettings[${index}]` + (port === undefined ? '' : ` (port ${port})`);
    settings.push({ path: `${portPath}.tls`, label: `${portLabel}.tls`, tls: portTls });
  });
}

/** Describes how the block turns off Istio mTLS, or returns `undefined` for ISTIO_MUTUAL. */
function describeTlsProblem(setting: TlsSetting): string | undefined {
  const mode = optionalString(setting.tls.mode, `${setting.path}.mode`);
  switch (mode) {
    case 'ISTIO_MUTUAL':
      return undefined;
    case undefined:
      return `sets ${setting.label} without a mode, which Istio reads as DISABLE`;
    case 'DISABLE':
      return `sets ${setting.label}.mode to DISABLE`;
    case 'SIMPLE':
      return `sets ${setting.label}.mode to SIMPLE, which replaces Istio mTLS with TLS that presents no client certificate`;
    case 'MUTUAL':
      return `sets ${setting.label}.mode to MUTUAL, which replaces Istio mTLS with certificates that the rule supplies`;
    default:
      throw new EvaluationError(`${setting.path}.mode must be DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL`);
  }
}

function portNumberOf(entry: JsonMap, path: string): number | undefined {
  const port = optionalMap(entry.port, `${path}.port`);
  const number = port?.number;
  if (number === undefined || number === null) {
    return undefined;
  }
  if (typeof number !== 'number') {
    throw new EvaluationError(`${path}.port.number must be a number, found ${describeType(number)}`);
  }
  return number;
}
