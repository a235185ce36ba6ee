import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { InputError } from '../errors.js';
import { UsageError } from './usage-error.js';
import { readManifests } from '../manifest/read.js';
import { checkManifests, type CheckResult } from '../offline/check.js';
import { rules } from '../rules/catalog.js';

export const checkUsage = `Usage: phi-mesh-guard check -f PATH [-f PATH...] [options]

Evaluates manifests offline as \`kubectl apply\` of them would be admitted. Namespaces in the
input are created first, through the guard's own mutation; every object is then judged as a
CREATE, as written, before Istio's sidecar injection.

Options:
  -f, --filename PATH      file, folder or - for standard input (repeatable); YAML or JSON,
                           multi-document and List kinds included
  --phi-namespace NAME     a namespace that already exists and holds PHI (repeatable)
  -n, --namespace NAME     namespace for objects without metadata.namespace (default "default")
  --mode enforce|dry-run   mode for every object (default enforce)
  --config FILE            guard configuration, for exemptions and label keys
  -o, --output table|json  output format (default table)

Exit status: 0 when nothing would be denied, 1 when enforce mode would deny something,
2 when the input or the options cannot be used.
`;

export async function runCheck(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      'phi-namespace': { type: 'string', multiple: true },
      namespace: { type: 'string', short: 'n' },
      mode: { type: 'string' },
      config: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(checkUsage);
    return 0;
  }
  const paths = values.filename ?? [];
  if (paths.length === 0) {
    throw new UsageError('check needs at least one -f PATH (a file, a folder, or - for standard input)');
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') {
    throw new UsageError(`--output must be table or json, found "${output}"`);
  }
  const mode = values.mode ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'dry-run') {
    throw new UsageError(`--mode must be enforce or dry-run, found "${mode}"`);
  }

  const config = await loadConfig(values.config !== undefined ? { file: values.config } : {});
  const documents = await readManifests(paths);
  if (documents.length === 0) {
    throw new InputError(`no Kubernetes objects found in ${paths.join(', ')}; an empty input would pass every check`);
  }
  const results = checkManifests({
    documents,
    config,
    rules,
    mode,
    phiNamespaces: values['phi-namespace'] ?? [],
    defaultNamespace: values.namespace ?? 'default',
  });

  process.stdout.write(output === 'json' ? `${JSON.stringify({ results }, null, 2)}\n` : formatTable(results));
  if (results.some((result) => result.decision === 'error')) {
    return 2;
  }
  return results.some((result) => result.decision === 'deny' || result.decision === 'would-deny') ? 1 : 0;
}

/** Formats one line per finding, then a summary line. */
export function formatTable(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const subject = `${result.kind} ${result.namespace === '' ? result.name : `${result.namespace}/${result.name}`}`;
    if (result.error !== undefined) {
      lines.push(`ERROR   ${result.source}  ${subject}  ${result.error}`);
    }
    for (const violation of result.violations) {
      let label = result.decision === 'would-deny' ? 'WOULD-DENY' : 'DENY';
      if (violation.exemption !== undefined) {
        label = 'EXEMPT';
      }
      const reason = violation.exemption !== undefined ? ` (exemption: ${violation.exemption.reason})` : '';
      lines.push(`${label.padEnd(7)} ${result.source}  ${subject}  [${violation.rule}] ${violation.message}${reason}`);
    }
    for (const operation of result.patch) {
      lines.push(`PATCH   ${result.source}  ${subject}  add ${operation.path} ${JSON.stringify(operation.value)}`);
    }
  }
  const count = (...kinds: string[]): number => results.filter((result) => kinds.includes(result.decision)).length;
  const dryRun = results.some((result) => result.decision === 'would-deny' || result.decision === 'would-mutate');
  const [denied, mutated] = dryRun ? ['would be denied', 'would be mutated'] : ['denied', 'mutated'];
  lines.push(
    `${results.length} ${results.length === 1 ? 'object' : 'objects'}: ${count('deny', 'would-deny')} ${denied}, ${count('mutate', 'would-mutate')} ${mutated}, ` +
      `${count('allow')} allowed, ${count('error')} not evaluable`,
  );
  return `${lines.join('\n')}\n`;
}
