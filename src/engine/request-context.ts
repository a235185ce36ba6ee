import type { AdmissionRequest, KubeObject } from '../admission/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { GuardConfig } from '../config/schema.js';
import { isMap } from './object.js';
import type { EvaluationContext, Stage } from './context.js';

/**
 * Builds the evaluation context from an AdmissionRequest. The namespace comes from
 * `request.namespace`, because pods created by controllers often carry none in
 * their metadata; the name falls back to `generateName` when `name` is empty.
 */
export function contextFromRequest(
  request: AdmissionRequest,
  stage: Stage,
  config: GuardConfig,
  view: ClusterView,
): EvaluationContext {
  const object = asObject(request.object);
  const oldObject = asObject(request.oldObject);
  const subject = object ?? oldObject;
  const metadata = subject !== undefined && isMap(subject.metadata) ? subject.metadata : {};

  let name = request.name ?? '';
  if (name === '') {
    name = typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : '';
  }
  if (name === '' && typeof metadata.generateName === 'string') {
    name = metadata.generateName;
  }

  return {
    stage,
    operation: request.operation,
    group: request.kind.group,
    version: request.kind.version,
    kind: request.kind.kind,
    resource: request.resource.resource,
    subResource: request.subResource ?? '',
    namespace: request.namespace ?? '',
    name,
    user: {
      username: request.userInfo?.username ?? '',
      groups: request.userInfo?.groups ?? [],
    },
    dryRun: request.dryRun === true,
    object: request.operation === 'DELETE' ? oldObject : object,
    oldObject,
    options: request.options,
    config,
    view,
  };
}

function asObject(value: unknown): KubeObject | undefined {
  return isMap(value) ? (value as KubeObject) : undefined;
}
