import { authzNoWildcardAllow } from './authz/no-wildcard-allow.js';
import { drMtlsRequired } from './destination/mtls-required.js';
import { mtlsMeshWide } from './mtls/mesh-wide.js';
import { mtlsStrict } from './mtls/strict.js';
import { namespaceGuard } from './namespace/guard.js';
import { namespaceInjection } from './namespace/injection.js';
import { podHostNetwork } from './pod/host-network.js';
import { podInjectionOptOut } from './pod/injection-opt-out.js';
import { podInteractiveAccess } from './pod/interactive-access.js';
import { podPhiLabels } from './pod/phi-labels.js';
import { podSidecarPresent } from './pod/sidecar-present.js';
import { podTrafficBypass } from './pod/traffic-bypass.js';
import type { Rule } from './rule.js';

/** Every rule, in the order findings are reported. */
export const rules: readonly Rule[] = [
  podPhiLabels,
  podInjectionOptOut,
  podHostNetwork,
  podTrafficBypass,
  podSidecarPresent,
  podInteractiveAccess,
  namespaceInjection,
  namespaceGuard,
  mtlsStrict,
  mtlsMeshWide,
  authzNoWildcardAllow,
  drMtlsRequired,
];
