/**
 * Rule ids and checked kinds as runtime values, so the configuration schema can
 * reject an exemption that names a rule or kind that does not exist.
 */

export const ruleIds = [
  'pod-phi-labels',
  'pod-injection-opt-out',
  'pod-host-network',
  'pod-traffic-bypass',
  'pod-sidecar-present',
  'pod-interactive-access',
  'namespace-injection',
  'namespace-guard',
  'mtls-strict',
  'mtls-mesh-wide',
  'authz-no-wildcard-allow',
  'dr-mtls-required',
] as const;

export type RuleId = (typeof ruleIds)[number];

/** The kinds that rules check, including the options kinds of CONNECT reviews. */
export const checkedKinds = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Namespace',
  'PeerAuthentication',
  'AuthorizationPolicy',
  'DestinationRule',
  'PodExecOptions',
  'PodAttachOptions',
  'PodPortForwardOptions',
] as const;
