import { describe, expect, it } from 'vitest';
import type { Decision } from '../engine/decision.js';
import { buildResponse } from './response.js';

const uid = '7b6f3c1e-2a4d-4f6b-9c8e-1d2e3f4a5b6c';
const violation = { rule: 'mtls-strict', message: 'PeerAuthentication billing/default sets spec.mtls.mode to PERMISSIVE.', controls: ['164.312(e)(1)'] };
const patch = [{ op: 'add' as const, path: '/metadata/labels/phi-mesh-guard.io~1phi', value: 'true' }];

function decision(overrides: Partial<Decision>): Decision {
  return { decision: 'allow', mode: 'enforce', violations: [], patch: [], ...overrides };
}

describe('buildResponse', () => {
  it('allows with nothing else', () => {
    expect(buildResponse(uid, decision({}), 'validate')).toEqual({ uid, allowed: true });
  });

  it('base64-encodes a patch at the mutating endpoint', () => {
    const response = buildResponse(uid, decision({ decision: 'mutate', patch }), 'mutate');
    expect(response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(response.patch!, 'base64').toString('utf8'))).toEqual(patch);
  });

  it('never patches at the validating endpoint', () => {
    expect(buildResponse(uid, decision({ decision: 'mutate', patch }), 'validate')).toEqual({ uid, allowed: true });
  });

  it('denies with every active violation', () => {
    const second = { ...violation, rule: 'authz-no-wildcard-allow', message: 'Second.' };
    const exempted = { ...violation, rule: 'pod-host-network', message: 'Exempted.', exemption: { reason: 'Gateway.' } };
    expect(buildResponse(uid, decision({ decision: 'deny', violations: [violation, second, exempted] }), 'validate')).toEqual({
      uid,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: `[mtls-strict] ${violation.message} [authz-no-wildcard-allow] Second.` },
      warnings: ['phi-mesh-guard: exempted [pod-host-network] Exempted. Exemption: Gateway.'],
    });
  });

  it('turns dry-run findings into warnings', () => {
    const response = buildResponse(uid, decision({ decision: 'would-deny', mode: 'dry-run', violations: [violation], patch }), 'mutate');
    expect(response).toEqual({
      uid,
      allowed: true,
      warnings: [
        `phi-mesh-guard dry-run: would deny [mtls-strict] ${violation.message}`,
        'phi-mesh-guard dry-run: would patch add /metadata/labels/phi-mesh-guard.io~1phi "true"',
      ],
    });
  });

  it.each([
    { name: 'enforce denies', mode: 'enforce' as const, allowed: false },
    { name: 'dry-run admits', mode: 'dry-run' as const, allowed: true },
  ])('error decision: $name', ({ mode, allowed }) => {
    const response = buildResponse(uid, decision({ decision: 'error', mode, errorMessage: 'cannot evaluate Pod billing/api: spec must be an object' }), 'validate');
    expect(response.allowed).toBe(allowed);
    expect(response.uid).toBe(uid);
    if (allowed) {
      expect(response.warnings).toEqual(['phi-mesh-guard dry-run: would deny, cannot evaluate Pod billing/api: spec must be an object']);
    } else {
      expect(response.status).toEqual({ code: 400, reason: 'BadRequest', message: 'phi-mesh-guard: cannot evaluate Pod billing/api: spec must be an object' });
    }
  });
});
