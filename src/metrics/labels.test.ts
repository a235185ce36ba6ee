import { describe, expect, it } from 'vitest';
import { kindLabel, operationLabel } from './labels.js';

describe('kindLabel', () => {
  it.each([
    { name: 'pod', kind: 'Pod', expected: 'Pod' },
    { name: 'workload template', kind: 'CronJob', expected: 'CronJob' },
    { name: 'Istio policy', kind: 'AuthorizationPolicy', expected: 'AuthorizationPolicy' },
    { name: 'exec options', kind: 'PodExecOptions', expected: 'PodExecOptions' },
    { name: 'port-forward options', kind: 'PodPortForwardOptions', expected: 'PodPortForwardOptions' },
    { name: 'unchecked built-in kind', kind: 'ConfigMap', expected: 'other' },
    { name: 'custom kind', kind: 'Widget', expected: 'other' },
    { name: 'wrong case', kind: 'pod', expected: 'other' },
    { name: 'empty', kind: '', expected: 'other' },
  ])('maps $name to $expected', ({ kind, expected }) => {
    expect(kindLabel(kind)).toBe(expected);
  });
});

describe('operationLabel', () => {
  it.each([
    { name: 'CREATE', operation: 'CREATE', expected: 'CREATE' },
    { name: 'CONNECT', operation: 'CONNECT', expected: 'CONNECT' },
    { name: 'unknown verb', operation: 'PATCH', expected: 'other' },
    { name: 'empty', operation: '', expected: 'other' },
  ])('maps $name to $expected', ({ operation, expected }) => {
    expect(operationLabel(operation)).toBe(expected);
  });
});
