import { describe, expect, it } from 'vitest';
import { resolveHostScope, type HostScope } from './host-scope.js';

const every: HostScope = { kind: 'every-namespace' };
const external: HostScope = { kind: 'external' };

function inNamespace(namespace: string): HostScope {
  return { kind: 'namespace', namespace };
}

describe('resolveHostScope', () => {
  it.each([
    { name: 'short name', host: 'records-db', expected: inNamespace('frontend') },
    { name: 'service and namespace', host: 'records-db.billing', expected: inNamespace('billing') },
    { name: 'service, namespace and svc', host: 'records-db.billing.svc', expected: inNamespace('billing') },
    { name: 'service FQDN', host: 'records-db.billing.svc.cluster.local', expected: inNamespace('billing') },
    { name: 'FQDN with a trailing dot', host: 'records-db.billing.svc.cluster.local.', expected: inNamespace('billing') },
    { name: 'FQDN in upper case', host: 'Records-DB.Billing.svc.cluster.local', expected: inNamespace('billing') },
    { name: 'pod of a headless service', host: 'records-db-0.records-db.billing.svc.cluster.local', expected: inNamespace('billing') },
    { name: 'wildcard in one namespace', host: '*.billing.svc.cluster.local', expected: inNamespace('billing') },
    { name: 'wildcard on service and namespace', host: '*.billing', expected: inNamespace('billing') },
    { name: 'star', host: '*', expected: every },
    { name: 'every .local name', host: '*.local', expected: every },
    { name: 'cluster domain', host: '*.cluster.local', expected: every },
    { name: 'every service', host: '*.svc.cluster.local', expected: every },
    { name: 'every partial service name', host: '*.svc', expected: every },
    { name: 'wildcard namespace label', host: 'records-db.*.svc.cluster.local', expected: every },
    { name: 'external name', host: 'api.stripe.com', expected: external },
    { name: 'external wildcard', host: '*.stripe.com', expected: external },
    { name: 'cluster-domain name outside svc', host: 'ledger.cluster.local', expected: external },
    { name: 'cluster domain itself', host: 'cluster.local', expected: external },
    { name: 'IPv4 address', host: '10.96.12.7', expected: external },
    { name: 'IPv6 address', host: 'fd00::12:7', expected: external },
    { name: 'FQDN under another cluster domain', host: 'records-db.billing.svc.corp.example', expected: external },
  ])('$name', ({ host, expected }) => {
    expect(resolveHostScope(host, 'frontend', 'cluster.local')).toEqual(expected);
  });

  it.each([
    { name: 'service FQDN', host: 'records-db.billing.svc.corp.example', expected: inNamespace('billing') },
    { name: 'partial name', host: 'records-db.billing.svc', expected: inNamespace('billing') },
    { name: 'domain wildcard', host: '*.corp.example', expected: every },
    { name: 'parent domain wildcard', host: '*.example', expected: every },
    { name: 'default domain wildcard', host: '*.cluster.local', expected: external },
    { name: 'default domain FQDN', host: 'records-db.billing.svc.cluster.local', expected: external },
  ])('custom cluster domain: $name', ({ host, expected }) => {
    expect(resolveHostScope(host, 'frontend', 'corp.example')).toEqual(expected);
  });
});
