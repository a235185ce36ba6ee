import { describe, expect, it } from 'vitest';
import { EvaluationError } from '../../errors.js';
import {
  describeUnboundedSource,
  principalPinsNamespace,
  unboundedValueReason,
  type PositiveSourceField,
} from './source-bounds.js';

const sourcePath = 'spec.rules[0].from[0].source';

describe('principalPinsNamespace', () => {
  it.each([
    { name: 'exact identity', value: 'cluster.local/ns/billing/sa/api', pinned: true },
    { name: 'any service account of one namespace', value: 'cluster.local/ns/billing/sa/*', pinned: true },
    { name: 'rest of one namespace', value: 'cluster.local/ns/billing/*', pinned: true },
    { name: 'any trust domain, one account', value: '*/ns/billing/sa/api', pinned: true },
    { name: 'regex characters without a star', value: 'cluster.local/ns/billing/sa/api+v2', pinned: true },
    { name: 'presence wildcard', value: '*', pinned: false },
    { name: 'every namespace', value: 'cluster.local/ns/*', pinned: false },
    { name: 'whole trust domain', value: 'cluster.local/*', pinned: false },
    { name: 'any trust domain, any namespace', value: '*/ns/*', pinned: false },
    { name: 'namespace prefix', value: 'cluster.local/ns/billing*', pinned: false },
    { name: 'star in the namespace segment', value: 'cluster.local/ns/*/sa/api', pinned: false },
    { name: 'service account in any namespace', value: '*/sa/api', pinned: false },
    { name: 'suffix without the ns marker', value: '*billing/sa/api', pinned: false },
    { name: 'regex alternation after a leading star', value: '*|.*/ns/billing/sa/api', pinned: false },
    { name: 'regex group after a leading star', value: '*(/ns/billing/sa/api|)', pinned: false },
    { name: 'regex in the namespace segment', value: '*/ns/.+/sa/api', pinned: false },
    { name: 'uppercase namespace segment', value: 'cluster.local/ns/Billing/sa/*', pinned: false },
  ])('$name', ({ value, pinned }) => {
    expect(principalPinsNamespace(value)).toBe(pinned);
  });
});

describe('unboundedValueReason', () => {
  it.each<{ name: string; field: PositiveSourceField; value: string; reason: string | undefined }>([
    { name: 'principal star', field: 'principals', value: '*', reason: 'contains "*"' },
    {
      name: 'principal across namespaces',
      field: 'principals',
      value: 'cluster.local/ns/*',
      reason: 'contains "cluster.local/ns/*", which does not pin one namespace',
    },
    { name: 'principal of one account', field: 'principals', value: 'cluster.local/ns/billing/sa/api', reason: undefined },
    { name: 'namespace star', field: 'namespaces', value: '*', reason: 'contains "*"' },
    {
      name: 'namespace prefix',
      field: 'namespaces',
      value: 'prod-*',
      reason: 'contains "prod-*", which matches more than one namespace',
    },
    {
      name: 'namespace suffix',
      field: 'namespaces',
      value: '*-phi',
      reason: 'contains "*-phi", which matches more than one namespace',
    },
    {
      name: 'namespace as regex',
      field: 'namespaces',
      value: '.+',
      reason: 'contains ".+", which matches more than one namespace',
    },
    { name: 'one namespace', field: 'namespaces', value: 'billing', reason: undefined },
    { name: 'service account in policy namespace', field: 'serviceAccounts', value: 'api', reason: undefined },
    { name: 'service account in named namespace', field: 'serviceAccounts', value: 'frontend/web', reason: undefined },
    {
      name: 'service account regex in namespace',
      field: 'serviceAccounts',
      value: '.*/web',
      reason: 'contains ".*/web", which matches more than one namespace',
    },
    {
      name: 'every IPv4 address',
      field: 'ipBlocks',
      value: '0.0.0.0/0',
      reason: 'contains "0.0.0.0/0", which covers every address',
    },
    {
      name: 'every IPv6 address',
      field: 'ipBlocks',
      value: '::/0',
      reason: 'contains "::/0", which covers every address',
    },
    {
      name: 'any address with prefix length zero',
      field: 'remoteIpBlocks',
      value: '10.0.0.0/0',
      reason: 'contains "10.0.0.0/0", which covers every address',
    },
    { name: 'IP block star', field: 'ipBlocks', value: '*', reason: 'contains "*"' },
    { name: 'private range', field: 'ipBlocks', value: '10.20.0.0/16', reason: undefined },
    { name: 'prefix length ten', field: 'ipBlocks', value: '10.0.0.0/10', reason: undefined },
    { name: 'single address', field: 'remoteIpBlocks', value: '203.0.113.4', reason: undefined },
    { name: 'request principal star', field: 'requestPrincipals', value: '*', reason: 'contains "*"' },
    {
      name: 'any issuer and subject',
      field: 'requestPrincipals',
      value: '*/*',
      reason: 'contains "*/*", which matches every issuer and subject',
    },
    { name: 'any subject of one issuer', field: 'requestPrincipals', value: 'https://login.example.org/*', reason: undefined },
    { name: 'one subject', field: 'requestPrincipals', value: 'https://login.example.org/alice', reason: undefined },
    { name: 'trust domain star', field: 'trustDomains', value: '*', reason: 'contains "*"' },
    {
      name: 'named trust domain',
      field: 'trustDomains',
      value: 'cluster.local',
      reason: 'contains "cluster.local", a whole trust domain that spans every namespace',
    },
  ])('$name', ({ field, value, reason }) => {
    expect(unboundedValueReason(field, value)).toBe(reason);
  });
});

describe('describeUnboundedSource', () => {
  it.each([
    { name: 'one exact principal', source: { principals: ['cluster.local/ns/frontend/sa/web'] } },
    { name: 'star ANDed with a namespace', source: { principals: ['*'], namespaces: ['billing'] } },
    { name: 'wide IP ANDed with a namespace', source: { ipBlocks: ['0.0.0.0/0'], namespaces: ['frontend'] } },
    { name: 'namespace with a negative field', source: { namespaces: ['frontend'], notPrincipals: ['cluster.local/ns/frontend/sa/batch'] } },
    { name: 'IP block only', source: { ipBlocks: ['10.20.0.0/16'] } },
    { name: 'service account only', source: { serviceAccounts: ['frontend/web'] } },
    { name: 'empty list beside a bounded field', source: { principals: [], namespaces: ['frontend'] } },
  ])('bounded: $name', ({ source }) => {
    expect(describeUnboundedSource(source, sourcePath)).toBeUndefined();
  });

  it.each([
    {
      name: 'principal star',
      source: { principals: ['*'] },
      finding: 'spec.rules[0].from[0].source.principals contains "*"',
    },
    {
      name: 'one wide value among bounded ones',
      source: { principals: ['cluster.local/ns/frontend/sa/web', 'cluster.local/ns/*'] },
      finding: 'spec.rules[0].from[0].source.principals contains "cluster.local/ns/*", which does not pin one namespace',
    },
    {
      name: 'two unbounded fields',
      source: { principals: ['*'], namespaces: ['prod-*'] },
      finding:
        'spec.rules[0].from[0].source.principals contains "*" and ' +
        'spec.rules[0].from[0].source.namespaces contains "prod-*", which matches more than one namespace',
    },
    {
      name: 'negative fields only',
      source: { notNamespaces: ['sandbox'], notIpBlocks: ['192.0.2.0/24'] },
      finding:
        'spec.rules[0].from[0].source sets only notNamespaces, notIpBlocks, ' +
        'which also match callers without an mTLS identity',
    },
    {
      name: 'empty source',
      source: {},
      finding: 'spec.rules[0].from[0].source names no principals, namespaces or IP blocks',
    },
    {
      name: 'empty positive list',
      source: { principals: [] },
      finding: 'spec.rules[0].from[0].source names no principals, namespaces or IP blocks',
    },
    {
      name: 'unknown field only',
      source: { principal: ['cluster.local/ns/frontend/sa/web'] },
      finding: 'spec.rules[0].from[0].source names no principals, namespaces or IP blocks',
    },
  ])('unbounded: $name', ({ source, finding }) => {
    expect(describeUnboundedSource(source, sourcePath)).toBe(finding);
  });

  it.each([
    { name: 'field not a list', source: { principals: 'cluster.local/ns/frontend/sa/web' }, path: 'principals must be a list, found a string' },
    { name: 'value not a string', source: { ipBlocks: ['10.0.0.0/8', 10] }, path: 'ipBlocks[1] must be a string, found a number' },
    { name: 'negative field not a list', source: { notNamespaces: { name: 'sandbox' } }, path: 'notNamespaces must be a list, found an object' },
  ])('malformed: $name', ({ source, path }) => {
    expect(() => describeUnboundedSource(source, sourcePath)).toThrow(EvaluationError);
    expect(() => describeUnboundedSource(source, sourcePath)).toThrow(`${sourcePath}.${path}`);
  });
});
