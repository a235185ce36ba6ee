/**
 * Decides whether one AuthorizationPolicy `source` names a bounded set of callers.
 *
 * Fields inside one source are ANDed and the values inside one field are ORed
 * (istio/api security/v1 authorization_policy.proto, message Source). So a field is
 * unbounded as soon as one of its values is, and a source is bounded as soon as one
 * of its positive fields is bounded.
 */
import { EvaluationError } from '../../errors.js';
import { describeType, type JsonMap } from '../../engine/object.js';

/**
 * Source fields that name the callers a rule admits. NOTE: the istio/api releases
 * read for this list have no `trustDomains` source field. It is read anyway, so a
 * policy that carries it is judged, and it never bounds a source on its own.
 */
export const positiveSourceFields = [
  'principals',
  'namespaces',
  'serviceAccounts',
  'ipBlocks',
  'remoteIpBlocks',
  'requestPrincipals',
  'trustDomains',
] as const;

/**
 * Source fields that name the callers a rule excludes. Peer principals and
 * namespaces come from the mTLS peer certificate (istio/api authorization_policy.proto,
 * message Source), so `notPrincipals` and `notNamespaces` match every plaintext
 * caller, and a source made only of these fields admits callers no one has named.
 */
export const negativeSourceFields = [
  'notPrincipals',
  'notNamespaces',
  'notServiceAccounts',
  'notIpBlocks',
  'notRemoteIpBlocks',
  'notRequestPrincipals',
] as const;

export type PositiveSourceField = (typeof positiveSourceFields)[number];

/** A Kubernetes namespace name (an RFC 1123 label). */
const namespaceName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A service account name (an RFC 1123 subdomain). */
const serviceAccountName = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * RE2 syntax other than `.` and `*`. istiod turns a principal with a leading `*` into
 * the regex `spiffe://.*<rest>` without escaping the rest (istio
 * pilot/pkg/security/authz/matcher/string.go, StringMatcherWithPrefix), so `|` or a
 * group in such a value can widen the match to every identity.
 */
const regexSyntax = /[\\^$|?+()[\]{}]/;

/** An IP prefix length of zero: `0.0.0.0/0`, `::/0`, or any address written with `/0`. */
const zeroPrefixLength = /\/0+$/;

/**
 * Explains why `value` of the positive field `field` does not bound the callers,
 * such as `contains "*"`, or returns `undefined` when the value is bounded.
 */
export function unboundedValueReason(field: PositiveSourceField, value: string): string | undefined {
  const quoted = JSON.stringify(value);
  if (value === '*') {
    return `contains ${quoted}`;
  }

  switch (field) {
    case 'principals':
      return principalPinsNamespace(value) ? undefined : `contains ${quoted}, which does not pin one namespace`;

    case 'namespaces':
      // istiod builds the regex `.*/ns/<value>/.*` and turns every `*` into `.*`
      // (istio pilot/pkg/security/authz/model/generator.go, srcNamespaceGenerator),
      // so anything but a plain namespace name can match several namespaces.
      return namespaceName.test(value) ? undefined : `contains ${quoted}, which matches more than one namespace`;

    case 'serviceAccounts':
      return serviceAccountPinsNamespace(value) ? undefined : `contains ${quoted}, which matches more than one namespace`;

    case 'ipBlocks':
    case 'remoteIpBlocks':
      return zeroPrefixLength.test(value) ? `contains ${quoted}, which covers every address` : undefined;

    case 'requestPrincipals':
      // NOTE: `issuer/*` counts as bounded because it admits the subjects of one
      // issuer, and only issuers configured in a RequestAuthentication are accepted.
      return isOnlyWildcards(value) ? `contains ${quoted}, which matches every issuer and subject` : undefined;

    case 'trustDomains':
      // A trust domain contains every namespace of a mesh, just like the principal
      // `cluster.local/*`, so no trust domain bounds the callers on its own.
      return `contains ${quoted}, a whole trust domain that spans every namespace`;
  }
}

/**
 * True when every identity the principal pattern can match lies in one namespace.
 * Peer identities have the form `<trust domain>/ns/<namespace>/sa/<service account>`.
 *
 * istiod honors one leading or one trailing `*` and matches any other `*` literally
 * (istio matcher/string.go). The guard reads every `*` as a wildcard, so a pattern is
 * bounded only when its text pins the namespace segment however the `*` are read.
 * A value without `*` is an exact identity and always bounded.
 */
export function principalPinsNamespace(value: string): boolean {
  // Bounded: cluster.local/ns/billing/sa/* and */ns/billing/sa/api.
  // Unbounded: cluster.local/ns/*, cluster.local/*, */ns/* and cluster.local/ns/billing*.
  if (!value.includes('*')) {
    return true;
  }
  if (regexSyntax.test(value)) {
    return false;
  }
  const marker = value.indexOf('/ns/');
  if (marker === -1) {
    return false;
  }
  const rest = value.slice(marker + '/ns/'.length);
  const end = rest.indexOf('/');
  const namespace = end === -1 ? rest : rest.slice(0, end);
  return namespaceName.test(namespace);
}

/**
 * True when a `serviceAccounts` value names one namespace. The value is `<name>` in
 * the policy's own namespace, or `<namespace>/<name>`. istiod puts both parts into a
 * regex unescaped (istio generator.go, serviceAccountRegex), so each must be a plain
 * name.
 */
function serviceAccountPinsNamespace(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash === -1) {
    return serviceAccountName.test(value);
  }
  return namespaceName.test(value.slice(0, slash)) && serviceAccountName.test(value.slice(slash + 1));
}

// True for values made only of `*` and `/`, such as `*` and `*/*`.
function isOnlyWildcards(value: string): boolean {
  for (const character of value) {
    if (character !== '*' && character !== '/') {
      return false;
    }
  }
  return value.includes('*');
}

/**
 * Describes why the source at `path` (such as `spec.rules[0].from[0].source`) does
 * not bound its callers, or returns `undefined` when at least one positive field is
 * bounded. Raises EvaluationError for a field that is not a list of strings.
 */
export function describeUnboundedSource(source: JsonMap, path: string): string | undefined {
  const unboundedFields: string[] = [];
  for (const field of positiveSourceFields) {
    const values = stringList(source[field], `${path}.${field}`);
    if (values.length === 0) {
      continue;
    }
    const reason = firstUnboundedReason(field, values);
    if (reason === undefined) {
      return undefined;
    }
    unboundedFields.push(`${path}.${field} ${reason}`);
  }
  if (unboundedFields.length > 0) {
    return unboundedFields.join(' and ');
  }

  const negativeFields: string[] = [];
  for (const field of negativeSourceFields) {
    if (stringList(source[field], `${path}.${field}`).length > 0) {
      negativeFields.push(field);
    }
  }
  if (negativeFields.length > 0) {
    return `${path} sets only ${negativeFields.join(', ')}, which also match callers without an mTLS identity`;
  }
  return `${path} names no principals, namespaces or IP blocks`;
}

function firstUnboundedReason(field: PositiveSourceField, values: readonly string[]): string | undefined {
  for (const value of values) {
    const reason = unboundedValueReason(field, value);
    if (reason !== undefined) {
      return reason;
    }
  }
  return undefined;
}

/** Reads the list of strings at `path`, which is `[]` when absent or null. */
function stringList(value: unknown, path: string): string[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new EvaluationError(`${path} must be a list, found ${describeType(value)}`);
  }
  for (let index = 0; index < value.length; index++) {
    if (typeof value[index] !== 'string') {
      throw new EvaluationError(`${path}[${index}] must be a string, found ${describeType(value[index])}`);
    }
  }
  return value as string[];
}
