/**
 * Label values for the guard's metrics. Every value comes from a fixed set, so a
 * caller who sends reviews of made-up kinds or operations cannot grow the number of
 * time series. Names and namespaces never become labels.
 */
import { checkedKinds } from '../rules/vocabulary.js';

const checkedKindSet: ReadonlySet<string> = new Set(checkedKinds);

const operations: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Returns the `kind` label value: the request kind when rules check it, else `other`. */
export function kindLabel(kind: string): string {
  return checkedKindSet.has(kind) ? kind : 'other';
}

/** Returns the `operation` label value: an admission operation, else `other`. */
export function operationLabel(operation: string): string {
  return operations.has(operation) ? operation : 'other';
}
