import type { KubeObject } from '../admission/types.js';
import { EvaluationError } from '../errors.js';
import { optionalMap, stringMap, type JsonMap } from './object.js';

/** The kinds whose pod template the pod rules check, with the template's field path. */
const templatePaths: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const workloadKinds: readonly string[] = Object.keys(templatePaths);

/** A Pod or a workload's pod template, with the dotted path for messages. */
export interface PodShape {
  /** `''` for a Pod, `spec.template` for a Deployment, and so on. */
  path: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: JsonMap;
}

export function isPodOrWorkload(group: string, kind: string): boolean {
  if (group === '' && kind === 'Pod') {
    return true;
  }
  return (group === 'apps' || group === 'batch') && kind in templatePaths;
}

/**
 * True for a Pod CREATE and for a workload CREATE or UPDATE on the object itself.
 * A Pod's spec is immutable after creation (bar a few fields), so checking Pod
 * UPDATEs would only block metadata changes, such as a controller removing a
 * finalizer, on pods that were admitted before.
 */
export function isPodCreateOrWorkloadWrite(ctx: {
  group: string;
  kind: string;
  operation: string;
  subResource: string;
}): boolean {
  if (ctx.subResource !== '' || !isPodOrWorkload(ctx.group, ctx.kind)) {
    return false;
  }
  if (ctx.kind === 'Pod') {
    return ctx.operation === 'CREATE';
  }
  return ctx.operation === 'CREATE' || ctx.operation === 'UPDATE';
}

/** Prefixes a field path with the template path: `fieldPath(shape, 'spec.hostNetwork')`. */
export function fieldPath(shape: PodShape, field: string): string {
  return shape.path === '' ? field : `${shape.path}.${field}`;
}

/** Reads the pod (or the workload's pod template) out of `object`, or `undefined` when it has none. */
export function podShapeOf(kind: string, object: KubeObject | undefined): PodShape | undefined {
  if (object === undefined) {
    return undefined;
  }
  const steps = kind === 'Pod' ? [] : templatePaths[kind];
  if (steps === undefined) {
    return undefined;
  }

  let node: JsonMap | undefined = object;
  const walked: string[] = [];
  for (const step of steps) {
    walked.push(step);
    node = optionalMap(node[step], walked.join('.'));
    if (node === undefined) {
      return undefined;
    }
  }

  const path = steps.join('.');
  const prefix = path === '' ? '' : `${path}.`;
  const metadata = optionalMap(node.metadata, `${prefix}metadata`) ?? {};
  const spec = optionalMap(node.spec, `${prefix}spec`);
  if (spec === undefined) {
    throw new EvaluationError(`${prefix}spec is missing`);
  }
  return {
    path,
    labels: stringMap(metadata.labels, `${prefix}metadata.labels`),
    annotations: stringMap(metadata.annotations, `${prefix}metadata.annotations`),
    spec,
  };
}

export interface ContainerEntry {
  /** `spec.containers[0]` and the like, prefixed with the template path. */
  path: string;
  list: 'containers' | 'initContainers' | 'ephemeralContainers';
  name: string;
  container: JsonMap;
}

/** Every container of the pod: regular, init and ephemeral, in that order. */
export function containersOf(shape: PodShape): ContainerEntry[] {
  const entries: ContainerEntry[] = [];
  for (const list of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const listPath = fieldPath(shape, `spec.${list}`);
    const items = shape.spec[list];
    if (items === undefined || items === null) {
      continue;
    }
    if (!Array.isArray(items)) {
      throw new EvaluationError(`${listPath} must be a list`);
    }
    items.forEach((item, index) => {
      const path = `${listPath}[${index}]`;
      const container = optionalMap(item, path);
      if (container === undefined) {
        throw new EvaluationError(`${path} must be an object, found null`);
      }
      const name = typeof container.name === 'string' ? container.name : `#${index}`;
      entries.push({ path, list, name, container });
    });
  }
  return entries;
}
