import { describe, expect, it } from 'vitest';

import type { Decision, RequestSummary } from '../engine/decision.js';
import { buildRecord, buildRecordLine, GENESIS_HASH, sha256Hex, type RecordInput } from './record.js';

const request: RequestSummary = {
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  operation: 'CREATE',
  group: 'security.istio.io',
  version: 'v1',
  kind: 'PeerAuthentication',
  subResource: '',
  namespace: 'billing',
  name: 'default',
  user: { username: 'system:serviceaccount:argocd:argocd-application-controller', groups: ['system:serviceaccounts'] },
  dryRun: false,
};

const denied: Decision = {
  decision: 'deny',
  mode: 'enforce',
  violations: [
    {
      rule: 'strict-mtls',
      message: 'PeerAuthentication billing/default sets spec.mtls.mode to PERMISSIVE; namespace billing requires STRICT.',
      controls: ['164.312(e)(1)'],
    },
  ],
  patch: [],
};

function input(decision: Decision, overrides: Partial<RecordInput> = {}): RecordInput {
  return {
    request,
    decision,
    objectSha256: 'a'.repeat(64),
    seq: 1,
    time: new Date('2025-03-04T05:06:07.089Z'),
    replica: 'phi-mesh-guard-0',
    prevHash: GENESIS_HASH,
    ...overrides,
  };
}

const ORDER_WITHOUT_ERROR = [
  'seq',
  'time',
  'uid',
  'replica',
  'operation',
  'group',
  'version',
  'kind',
  'subResource',
  'namespace',
  'name',
  'user',
  'dryRun',
  'mode',
  'decision',
  'violations',
  'patch',
  'objectSha256',
  'prevHash',
  'hash',
];
const ORDER_WITH_ERROR = [...ORDER_WITHOUT_ERROR.slice(0, -2), 'error', 'prevHash', 'hash'];

describe('buildRecord', () => {
  it.each([
    { name: 'deny', decision: denied, keys: ORDER_WITHOUT_ERROR },
    {
      name: 'error with message',
      decision: { decision: 'error', mode: 'enforce', violations: [], patch: [], errorMessage: 'object is not valid JSON' },
      keys: ORDER_WITH_ERROR,
    },
    {
      name: 'error without message',
      decision: { decision: 'error', mode: 'dry-run', violations: [], patch: [] },
      keys: ORDER_WITH_ERROR,
    },
    {
      name: 'allow ignores errorMessage',
      decision: { decision: 'allow', mode: 'enforce', violations: [], patch: [], errorMessage: 'unused' },
      keys: ORDER_WITHOUT_ERROR,
    },
  ] satisfies { name: string; decision: Decision; keys: string[] }[])('field order for $name', ({ decision, keys }) => {
    const record = buildRecord(input(decision));

    expect(Object.keys(record)).toEqual(keys);
  });

  it('stores error message for error decision', () => {
    const withMessage = buildRecord(
      input({ decision: 'error', mode: 'enforce', violations: [], patch: [], errorMessage: 'rule crashed' }),
    );
    const withoutMessage = buildRecord(input({ decision: 'error', mode: 'enforce', violations: [], patch: [] }));

    expect(withMessage.error).toBe('rule crashed');
    expect(withoutMessage.error).toBe('');
  });

  it('hash covers every other field', () => {
    const record = buildRecord(input(denied));
    const { hash, ...unhashed } = record;

    expect(hash).toBe(sha256Hex(JSON.stringify(unhashed)));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('line is the JSON of the record', () => {
    const { record, line } = buildRecordLine(input(denied));

    expect(line).toBe(JSON.stringify(record));
    expect(line).not.toContain('\n');
  });

  it('copies fields from request and decision', () => {
    const record = buildRecord(input(denied, { seq: 7, prevHash: 'b'.repeat(64) }));

    expect(record.seq).toBe(7);
    expect(record.time).toBe('2025-03-04T05:06:07.089Z');
    expect(record.uid).toBe(request.uid);
    expect(record.replica).toBe('phi-mesh-guard-0');
    expect(record.operation).toBe('CREATE');
    expect(record.group).toBe('security.istio.io');
    expect(record.version).toBe('v1');
    expect(record.kind).toBe('PeerAuthentication');
    expect(record.subResource).toBe('');
    expect(record.namespace).toBe('billing');
    expect(record.name).toBe('default');
    expect(record.user).toEqual(request.user);
    expect(record.dryRun).toBe(false);
    expect(record.mode).toBe('enforce');
    expect(record.decision).toBe('deny');
    expect(record.violations).toEqual(denied.violations);
    expect(record.patch).toEqual([]);
    expect(record.objectSha256).toBe('a'.repeat(64));
    expect(record.prevHash).toBe('b'.repeat(64));
  });

  it('keeps only metadata of the inputs', () => {
    const requestWithExtras = { ...request, object: { spec: { secret: 'patient-42' } } } as RequestSummary;
    const violationWithExtras = { ...denied.violations[0]!, detail: 'patient-42' };
    const decision: Decision = {
      ...denied,
      violations: [violationWithExtras],
      internalError: new Error('rule crashed on patient-42'),
    };

    const { line } = buildRecordLine(input(decision, { request: requestWithExtras }));

    expect(line).not.toContain('patient-42');
  });

  it.each([
    { name: 'exemption without expiry', exemption: { reason: 'migration window' }, expected: '{"reason":"migration window"}' },
    {
      name: 'exemption with expiry',
      exemption: { expires: '2025-06-01', reason: 'migration window' },
      expected: '{"reason":"migration window","expires":"2025-06-01"}',
    },
  ])('violation $name', ({ exemption, expected }) => {
    const decision: Decision = {
      decision: 'allow',
      mode: 'enforce',
      violations: [{ rule: 'strict-mtls', message: 'exempted', controls: [], exemption }],
      patch: [],
    };

    const { line } = buildRecordLine(input(decision));

    expect(line).toContain(`"exemption":${expected}`);
  });

  it('omits exemption when unset', () => {
    const { line } = buildRecordLine(input(denied));

    expect(line).not.toContain('exemption');
  });

  it('records patch operations', () => {
    const decision: Decision = {
      decision: 'mutate',
      mode: 'enforce',
      violations: [],
      patch: [{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }],
    };

    const record = buildRecord(input(decision));

    expect(record.patch).toEqual([{ op: 'add', path: '/metadata/labels/istio-injection', value: 'enabled' }]);
  });

  it('stores null objectSha256', () => {
    const record = buildRecord(input(denied, { objectSha256: null }));

    expect(record.objectSha256).toBeNull();
  });

  it('rejects invalid time', () => {
    expect(() => buildRecord(input(denied, { time: new Date(Number.NaN) }))).toThrow(RangeError);
  });
});

describe('sha256Hex', () => {
  it.each([
    { name: 'empty string', text: '', expected: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    { name: 'ascii text', text: 'abc', expected: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  ])('digest of $name', ({ text, expected }) => {
    expect(sha256Hex(text)).toBe(expected);
  });
});
