import type { EvaluationContext } from './context.js';
import type { Mode } from './decision.js';

/**
 * Returns the namespace's mode label when it names a known mode, else the configured
 * default. Cluster-scoped and root-namespace objects always use the default, so a
 * label on one namespace cannot relax mesh-wide policy.
 */
export function effectiveMode(ctx: EvaluationContext): Mode {
  const { config } = ctx;
  // The API server sets request.namespace to a Namespace object's own name, so a
  // namespace's own mode label must not decide how changes to that namespace are judged.
  const isNamespaceObject = ctx.group === '' && ctx.kind === 'Namespace';
  if (ctx.namespace === '' || isNamespaceObject || ctx.namespace === config.rootNamespace) {
    return config.defaultMode;
  }
  const label = ctx.view.namespace(ctx.namespace)?.labels[config.modeLabelKey];
  return label === 'enforce' || label === 'dry-run' ? label : config.defaultMode;
}
