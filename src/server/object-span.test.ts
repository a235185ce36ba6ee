import { describe, expect, it } from 'vitest';
import { findRequestFieldSpan } from './object-span.js';

function spanText(body: string, field: 'object' | 'oldObject' = 'object'): string | undefined {
  const buffer = Buffer.from(body);
  const span = findRequestFieldSpan(buffer, field);
  return span === undefined ? undefined : buffer.subarray(span.start, span.end).toString('utf8');
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api', annotations: { note: 'a "quoted" } brace \\ and ] bracket' } }, spec: { containers: [{ name: 'api', args: ['{', '}', '"'] }] } };

describe('findRequestFieldSpan', () => {
  it.each([
    { name: 'compact review', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', object: pod, oldObject: null } }) },
    { name: 'pretty-printed review', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', object: pod } }, null, 2) },
    { name: 'object before other keys', body: JSON.stringify({ request: { object: pod, uid: 'u', userInfo: { username: 'a' } }, kind: 'AdmissionReview' }) },
    { name: 'nested key named object', body: JSON.stringify({ request: { uid: 'u', options: { object: { a: 1 } }, object: pod } }) },
    { name: 'unicode and escapes', body: JSON.stringify({ request: { uid: 'u', object: { ...pod, data: { text: 'naïve \u2028 \\"x\\" 😀' } } } }) },
  ])('returns the object of a $name', ({ body }) => {
    const text = spanText(body);
    expect(text).toBeDefined();
    expect(JSON.parse(text!)).toEqual((JSON.parse(body) as { request: { object: unknown } }).request.object);
  });

  it('finds oldObject for DELETE', () => {
    const body = JSON.stringify({ request: { uid: 'u', operation: 'DELETE', object: null, oldObject: pod } });
    expect(JSON.parse(spanText(body, 'oldObject')!)).toEqual(pod);
    expect(spanText(body, 'object')).toBeUndefined();
  });

  it.each([
    { name: 'no request', body: JSON.stringify({ object: pod }) },
    { name: 'object outside request', body: JSON.stringify({ object: pod, request: { uid: 'u' } }) },
    { name: 'duplicate object key', body: `{"request":{"object":{"a":1},"object":{"a":2}}}` },
    { name: 'duplicate request key', body: `{"request":{"object":{"a":1}},"request":{"object":{"a":2}}}` },
    { name: 'escaped key', body: `{"request":{"obj\\u0065ct":{"a":1}}}` },
    { name: 'object that is a list', body: `{"request":{"object":[1,2]}}` },
    { name: 'object in a string only', body: JSON.stringify({ request: { uid: '"object":{}' } }) },
  ])('returns undefined for $name', ({ body }) => {
    expect(spanText(body)).toBeUndefined();
  });
});
