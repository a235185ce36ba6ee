import { InvalidReviewError } from '../errors.js';
import { isMap } from '../engine/object.js';
import type { AdmissionRequest, AdmissionReview, Operation } from './types.js';

const reviewVersions: ReadonlySet<string> = new Set(['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']);
const operations: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** An AdmissionReview envelope whose request cannot be evaluated, but whose uid can be echoed. */
export interface UnusableRequest {
  apiVersion: AdmissionReview['apiVersion'];
  uid: string;
  problem: string;
}

export type ParsedReview =
  | { ok: true; apiVersion: AdmissionReview['apiVersion']; request: AdmissionRequest }
  | ({ ok: false } & UnusableRequest);

/**
 * Checks the envelope of an AdmissionReview. Throws InvalidReviewError (HTTP 400)
 * when the body is not an AdmissionReview or has no request uid to answer;
 * returns `ok: false` with the problem when a uid exists but the request cannot be
 * evaluated, so the caller can answer the API server in kind.
 *
 * Hand-written rather than a zod schema: this runs on every request, and only the
 * envelope is checked here; rules read the object defensively.
 */
export function parseReview(body: unknown): ParsedReview {
  if (!isMap(body)) {
    throw new InvalidReviewError('request body must be a JSON object holding an AdmissionReview');
  }
  const { apiVersion, kind, request } = body;
  if (kind !== 'AdmissionReview' || typeof apiVersion !== 'string' || !reviewVersions.has(apiVersion)) {
    throw new InvalidReviewError(
      `body must be an AdmissionReview of apiVersion admission.k8s.io/v1 or v1beta1, found kind ${describe(kind)} and apiVersion ${describe(apiVersion)}`,
    );
  }
  const version = apiVersion as AdmissionReview['apiVersion'];
  if (!isMap(request)) {
    throw new InvalidReviewError('AdmissionReview has no request');
  }
  if (typeof request.uid !== 'string' || request.uid === '') {
    throw new InvalidReviewError('AdmissionReview request.uid is missing');
  }
  const uid = request.uid;
  const unusable = (problem: string): ParsedReview => ({ ok: false, apiVersion: version, uid, problem });

  if (!isGroupVersionName(request.kind, 'kind')) {
    return unusable('request.kind must hold string group, version and kind');
  }
  if (!isGroupVersionName(request.resource, 'resource')) {
    return unusable('request.resource must hold string group, version and resource');
  }
  if (typeof request.operation !== 'string' || !operations.has(request.operation)) {
    return unusable(`request.operation must be CREATE, UPDATE, DELETE or CONNECT, found ${describe(request.operation)}`);
  }
  for (const field of ['namespace', 'name', 'subResource'] as const) {
    const value = request[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      return unusable(`request.${field} must be a string`);
    }
  }
  if (request.userInfo !== undefined && request.userInfo !== null && !isMap(request.userInfo)) {
    return unusable('request.userInfo must be an object');
  }

  const operation = request.operation as Operation;
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isMap(request.object)) {
    return unusable(`request.object is missing; a ${operation} review must carry the object`);
  }
  if (operation === 'UPDATE' && !isMap(request.oldObject)) {
    return unusable('request.oldObject is missing; an UPDATE review must carry the stored object');
  }
  if (operation === 'DELETE' && !isMap(request.oldObject) && !isMap(request.object)) {
    return unusable('request.oldObject is missing; a DELETE review must carry the object being deleted');
  }

  const userInfo = isMap(request.userInfo) ? request.userInfo : {};
  const groups = Array.isArray(userInfo.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : [];
  const parsed: AdmissionRequest = {
    ...(request as unknown as AdmissionRequest),
    namespace: typeof request.namespace === 'string' ? request.namespace : '',
    userInfo: { username: typeof userInfo.username === 'string' ? userInfo.username : '', groups },
    dryRun: request.dryRun === true,
  };
  return { ok: true, apiVersion: version, request: parsed };
}

function isGroupVersionName(value: unknown, nameField: 'kind' | 'resource'): boolean {
  return (
    isMap(value) &&
    typeof value.group === 'string' &&
    typeof value.version === 'string' &&
    typeof value[nameField] === 'string' &&
    value[nameField] !== ''
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  }
  return value === undefined ? 'nothing' : typeof value;
}
