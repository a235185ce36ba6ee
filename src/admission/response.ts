import type { Decision } from '../engine/decision.js';
import type { AdmissionResponse, AdmissionReview } from './types.js';

export type Endpoint = 'mutate' | 'validate';

const warningPrefix = 'phi-mesh-guard';

/**
 * Turns a decision into the AdmissionResponse the API server expects. Only an
 * enforce-mode `mutate` decision at the mutating endpoint carries a patch;
 * validating responses never do.
 */
export function buildResponse(uid: string, decision: Decision, endpoint: Endpoint): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  const warnings: string[] = [];

  for (const violation of decision.violations) {
    if (violation.exemption !== undefined) {
      warnings.push(`${warningPrefix}: exempted [${violation.rule}] ${violation.message} Exemption: ${violation.exemption.reason}`);
    }
  }

  switch (decision.decision) {
    case 'allow':
      break;
    case 'mutate':
      if (endpoint === 'mutate' && decision.patch.length > 0) {
        response.patchType = 'JSONPatch';
        response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
      }
      break;
    case 'deny':
      response.allowed = false;
      response.status = { code: 403, reason: 'Forbidden', message: denialMessage(decision) };
      break;
    case 'would-deny':
    case 'would-mutate':
      for (const violation of decision.violations) {
        if (violation.exemption === undefined) {
          warnings.push(`${warningPrefix} dry-run: would deny [${violation.rule}] ${violation.message}`);
        }
      }
      for (const operation of decision.patch) {
        warnings.push(`${warningPrefix} dry-run: would patch add ${operation.path} ${JSON.stringify(operation.value)}`);
      }
      break;
    case 'error':
      if (decision.mode === 'enforce') {
        response.allowed = false;
        response.status = { code: 400, reason: 'BadRequest', message: `${warningPrefix}: ${decision.errorMessage ?? 'cannot evaluate the request'}` };
      } else {
        warnings.push(`${warningPrefix} dry-run: would deny, ${decision.errorMessage ?? 'cannot evaluate the request'}`);
      }
      break;
  }

  if (warnings.length > 0) {
    response.warnings = warnings;
  }
  return response;
}

function denialMessage(decision: Decision): string {
  const active = decision.violations.filter((violation) => violation.exemption === undefined);
  return active.map((violation) => `[${violation.rule}] ${violation.message}`).join(' ');
}

/** Wraps a response in an AdmissionReview of the same apiVersion as the request. */
export function reviewOf(apiVersion: AdmissionReview['apiVersion'], response: AdmissionResponse): AdmissionReview & { response: AdmissionResponse } {
  return { apiVersion, kind: 'AdmissionReview', response };
}
