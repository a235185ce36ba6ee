/**
 * Maps a DestinationRule `spec.host` to the namespaces whose services it covers.
 *
 * istiod expands a host without a dot with the rule's own namespace and
 * `.svc.<cluster domain>` (istio pilot/pkg/model/config.go, ResolveShortnameToFQDN),
 * and compares wildcard hosts such as `*.cluster.local` by suffix against service
 * FQDNs `<service>.<namespace>.svc.<cluster domain>`.
 */

/** The namespaces a host reaches. */
export type HostScope =
  | { kind: 'namespace'; namespace: string }
  | { kind: 'every-namespace' }
  /** A host that names no Kubernetes service, such as `api.stripe.com`. */
  | { kind: 'external' };

/**
 * Resolves `host` written in a DestinationRule of `ruleNamespace`.
 *
 * - `db` resolves to the rule's namespace.
 * - `db.billing`, `db.billing.svc`, `db.billing.svc.<domain>`, `*.billing.svc.<domain>`
 *   and `db-0.db.billing.svc.<domain>` resolve to `billing`. istiod matches the first
 *   two forms literally, so they usually reach no service, but a reader takes them
 *   for the service in `billing`, and the guard resolves them the same way to be safe.
 * - `*`, and a wildcard whose suffix covers `svc.<domain>` (`*.local`, `*.<domain>`,
 *   `*.svc.<domain>`, `*.svc`), reaches every namespace.
 * - Anything else is external, including IP addresses. A name with one dot is read
 *   as `<service>.<namespace>`, so `stripe.com` resolves to a namespace `com`, which
 *   only matters when such a namespace exists and is a PHI namespace.
 *
 * NOTE: names in the cluster domain but outside `svc` (a ServiceEntry host such as
 * `ledger.cluster.local`) are treated as external, because they carry no namespace.
 */
export function resolveHostScope(host: string, ruleNamespace: string, clusterDomain: string): HostScope {
  let name = host.toLowerCase();
  if (name.endsWith('.')) {
    name = name.slice(0, -1);
  }
  const domain = clusterDomain.toLowerCase();
  const serviceDomain = `svc.${domain}`;

  if (name === '*') {
    return { kind: 'every-namespace' };
  }
  if (name.includes(':')) {
    return { kind: 'external' };
  }
  if (name.startsWith('*.')) {
    const suffix = name.slice(2);
    if (suffix === serviceDomain || serviceDomain.endsWith(`.${suffix}`)) {
      return { kind: 'every-namespace' };
    }
  }
  if (!name.includes('.')) {
    return { kind: 'namespace', namespace: ruleNamespace };
  }

  const serviceName = expandPartialName(name, domain);
  const serviceSuffix = `.${serviceDomain}`;
  if (!serviceName.endsWith(serviceSuffix)) {
    return { kind: 'external' };
  }
  const head = serviceName.slice(0, -serviceSuffix.length);
  const namespace = head.slice(head.lastIndexOf('.') + 1);
  if (namespace === '' || namespace.includes('*')) {
    return { kind: 'every-namespace' };
  }
  return { kind: 'namespace', namespace };
}

/**
 * Completes `db.billing` and `db.billing.svc` to `db.billing.svc.<domain>`, as
 * Kubernetes DNS search paths do for a pod. Other names are returned unchanged.
 */
function expandPartialName(name: string, domain: string): string {
  if (name === domain || name.endsWith(`.${domain}`)) {
    return name;
  }
  if (name.endsWith('.svc')) {
    return `${name}.${domain}`;
  }
  if (name.indexOf('.') === name.lastIndexOf('.')) {
    return `${name}.svc.${domain}`;
  }
  return name;
}
