import type { EvaluationContext } from './context.js';
import type { Mode } from './decision.js';

/**
 * The namespace's mode label when it holds a known mode, else the configured
 * default. Cluster-scoped and root-namespace objects always use the default, so a
 * label on one namespace cannot relax mesh-wide policy.
 */
export function effectiveMode(ctx: EvaluationContext): Mode {
  const { config } = ctx;
  if (ctx.namespace === '' || ctx.namespace === config.rootNamespace) {
    return config.defaultMode;
  }
  const label = ctx.view.namespace(ctx.namespace)?.labels[config.modeLabelKey];
  return label === 'enforce' || label === 'dry-run' ? label : config.defaultMode;
}
