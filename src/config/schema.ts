import { z } from 'zod';
import { checkedKinds, ruleIds } from '../rules/vocabulary.js';

const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must be a Kubernetes label key');

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'must be an ISO 8601 date such as 2027-06-30')
  .refine((value) => !Number.isNaN(Date.parse(value)), 'must be a valid date');

export const exemptionSchema = z
  .strictObject({
    rule: z.enum(ruleIds),
    kind: z.enum(checkedKinds),
    namespace: z.string().min(1),
    name: z.string().min(1).optional(),
    selector: z.strictObject({ matchLabels: z.record(z.string(), z.string()) }).optional(),
    reason: z.string().min(1),
    expires: isoDate.optional(),
  })
  .refine((value) => (value.name === undefined) !== (value.selector === undefined), {
    message: 'an exemption names exactly one of "name" or "selector"',
  });

const modeSchema = z.enum(['enforce', 'dry-run']);

const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * The guard's configuration. Every field has a default that serves a local run,
 * so an empty file (or no file) is a valid configuration.
 */
export const configSchema = z.strictObject({
  defaultMode: modeSchema.default('enforce'),
  phiLabel: z
    .strictObject({ key: labelKey.default('phi-mesh-guard.io/phi'), value: z.string().default('true') })
    .default({ key: 'phi-mesh-guard.io/phi', value: 'true' }),
  modeLabelKey: labelKey.default('phi-mesh-guard.io/mode'),
  rootNamespace: z.string().min(1).default('istio-system'),
  guardNamespace: z.string().min(1).default('phi-mesh-guard'),
  clusterDomain: z.string().min(1).default('cluster.local'),
  exemptNamespaces: z.array(z.string().min(1)).default(['kube-system', 'kube-public', 'kube-node-lease']),
  breakGlass: z
    .strictObject({
      groups: z.array(z.string().min(1)).default([]),
      users: z.array(z.string().min(1)).default([]),
    })
    .default({ groups: [], users: [] }),
  exemptions: z.array(exemptionSchema).default([]),
  /**
   * At the validating endpoint, require a sidecar-mode pod to carry an istio-proxy
   * container. Turn off only where injection is verified by another control.
   */
  requireProxyAtValidation: z.boolean().default(true),
  records: z
    .strictObject({
      path: z.string().min(1).default('records/decisions.jsonl'),
      fsyncIntervalMs: z.number().int().min(0).max(1000).default(0),
    })
    .default({ path: 'records/decisions.jsonl', fsyncIntervalMs: 0 }),
  server: z
    .strictObject({
      port: z.number().int().min(1).max(65535).default(8443),
      host: z.string().min(1).default('0.0.0.0'),
      certDir: z.string().min(1).default('certs'),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      certReloadIntervalSeconds: z.number().int().min(1).max(3600).default(10),
      certExpiryWarningDays: z.number().int().min(0).max(825).default(30),
      bodyLimitBytes: z.number().int().min(1024).default(6 * 1024 * 1024),
    })
    .refine((value) => (value.certFile === undefined) === (value.keyFile === undefined), {
      message: 'certFile and keyFile must be set together',
    })
    .default({
      port: 8443,
      host: '0.0.0.0',
      certDir: 'certs',
      certReloadIntervalSeconds: 10,
      certExpiryWarningDays: 30,
      bodyLimitBytes: 6 * 1024 * 1024,
    }),
  logLevel: logLevelSchema.default('info'),
});

export type GuardConfig = z.infer<typeof configSchema>;
export type Exemption = z.infer<typeof exemptionSchema>;
export type ModeName = z.infer<typeof modeSchema>;

/** Returns the configuration with every default applied, for tests and offline runs. */
export function defaultConfig(): GuardConfig {
  return configSchema.parse({});
}
