import { beforeAll, describe, expect, it } from 'vitest';
import { loadBaseObjects, type Manifest, single } from './support.js';

const excluded = ['kube-system', 'kube-public', 'kube-node-lease', 'phi-mesh-guard', 'istio-system'];
/** Entries that only PHI namespaces reach, because every pod rule applies only there. */
const phiScoped: ReadonlySet<string> = new Set(['pods.phi-mesh-guard.io', 'workloads.phi-mesh-guard.io']);

const istioRules = [
  {
    apiGroups: ['security.istio.io'],
    apiVersions: ['v1', 'v1beta1'],
    resources: ['peerauthentications', 'authorizationpolicies'],
    operations: ['CREATE', 'UPDATE', 'DELETE'],
    scope: 'Namespaced',
  },
  {
    apiGroups: ['networking.istio.io'],
    apiVersions: ['v1', 'v1beta1', 'v1alpha3'],
    resources: ['destinationrules'],
    operations: ['CREATE', 'UPDATE'],
    scope: 'Namespaced',
  },
];

const namespaceValidationRule = { apiGroups: [''], apiVersions: ['v1'], resources: ['namespaces'], operations: ['UPDATE', 'DELETE'], scope: 'Cluster' };

const expectedWebhooks = [
  {
    configuration: 'MutatingWebhookConfiguration',
    name: 'pods.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' }],
  },
  {
    configuration: 'MutatingWebhookConfiguration',
    name: 'namespaces.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['namespaces'], operations: ['CREATE', 'UPDATE'], scope: 'Cluster' }],
  },
  {
    configuration: 'ValidatingWebhookConfiguration',
    name: 'pods.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: [
      { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
      { apiGroups: [''], apiVersions: ['v1'], resources: ['pods/ephemeralcontainers'], operations: ['UPDATE'], scope: 'Namespaced' },
      { apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach', 'pods/portforward'], operations: ['CONNECT'], scope: 'Namespaced' },
    ],
  },
  {
    configuration: 'ValidatingWebhookConfiguration',
    name: 'workloads.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: [
      { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
      { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' },
    ],
  },
  {
    configuration: 'ValidatingWebhookConfiguration',
    name: 'namespaces.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: [namespaceValidationRule],
  },
  {
    configuration: 'ValidatingWebhookConfiguration',
    name: 'istio.phi-mesh-guard.io',
    istioSystemOnly: false,
    rules: istioRules,
  },
  {
    configuration: 'ValidatingWebhookConfiguration',
    name: 'istio-system.phi-mesh-guard.io',
    istioSystemOnly: true,
    rules: [...istioRules, namespaceValidationRule],
  },
];

let objects: Manifest[];

beforeAll(async () => {
  objects = await loadBaseObjects();
});

function webhooksOf(kind: string): Manifest[] {
  return single(objects, kind, 'phi-mesh-guard').webhooks as Manifest[];
}

function webhook(configuration: string, name: string): Manifest {
  const found = webhooksOf(configuration).filter((entry) => entry.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

const table = expectedWebhooks.map((entry) => [`${entry.configuration} ${entry.name}`, entry] as const);

describe('webhook configurations', () => {
  it.each([
    ['MutatingWebhookConfiguration', ['pods.phi-mesh-guard.io', 'namespaces.phi-mesh-guard.io']],
    [
      'ValidatingWebhookConfiguration',
      ['pods.phi-mesh-guard.io', 'workloads.phi-mesh-guard.io', 'namespaces.phi-mesh-guard.io', 'istio.phi-mesh-guard.io', 'istio-system.phi-mesh-guard.io'],
    ],
  ])('%s has exactly the expected webhooks', (kind, names) => {
    expect(webhooksOf(kind).map((entry) => entry.name)).toEqual(names);
  });

  it.each(table)('%s has the expected rules', (_name, expected) => {
    expect(webhook(expected.configuration, expected.name).rules).toEqual(expected.rules);
  });

  it.each(table)('%s declares the admission contract', (_name, expected) => {
    const entry = webhook(expected.configuration, expected.name);
    expect(entry.sideEffects).toBe('None');
    expect(entry.admissionReviewVersions).toEqual(['v1']);
    expect(entry.matchPolicy).toBe('Equivalent');
    expect(Number.isInteger(entry.timeoutSeconds)).toBe(true);
    expect(entry.timeoutSeconds).toBeGreaterThanOrEqual(1);
    expect(entry.timeoutSeconds).toBeLessThanOrEqual(5);
  });

  it.each(table)('%s calls the guard Service', (_name, expected) => {
    const entry = webhook(expected.configuration, expected.name);
    const path = expected.configuration === 'MutatingWebhookConfiguration' ? '/mutate' : '/validate';
    expect(entry.clientConfig.service).toEqual({ namespace: 'phi-mesh-guard', name: 'phi-mesh-guard', port: 443, path });
    expect(entry.clientConfig.url).toBeUndefined();
    expect(entry.clientConfig).not.toHaveProperty('caBundle');
  });

  it.each(table)('%s has no object selector', (_name, expected) => {
    const entry = webhook(expected.configuration, expected.name);
    expect(entry.objectSelector).toBeUndefined();
    expect(entry.namespaceSelector.matchLabels).toBeUndefined();
  });

  it.each(table.filter(([, expected]) => !expected.istioSystemOnly))('%s fails closed outside excluded namespaces', (_name, expected) => {
    const entry = webhook(expected.configuration, expected.name);
    expect(entry.failurePolicy).toBe('Fail');
    const expressions = [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded }];
    if (phiScoped.has(expected.name)) {
      expressions.push({ key: 'phi-mesh-guard.io/phi', operator: 'In', values: ['true'] });
    }
    expect(entry.namespaceSelector.matchExpressions).toEqual(expressions);
  });

  it('istio-system entry ignores failures there only', () => {
    const entry = webhook('ValidatingWebhookConfiguration', 'istio-system.phi-mesh-guard.io');
    expect(entry.failurePolicy).toBe('Ignore');
    expect(entry.namespaceSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['istio-system'] }]);
  });

  it.each(table.filter(([, expected]) => expected.configuration === 'MutatingWebhookConfiguration'))(
    '%s is called again when a later webhook changes the object',
    (_name, expected) => {
      expect(webhook(expected.configuration, expected.name).reinvocationPolicy).toBe('IfNeeded');
    },
  );

  it('validating webhooks set no reinvocationPolicy', () => {
    for (const entry of webhooksOf('ValidatingWebhookConfiguration')) {
      expect(entry.reinvocationPolicy).toBeUndefined();
    }
  });
});

interface RequestShape {
  group: string;
  resource: string;
  operation: string;
  /** The request's namespace, or for a Namespace object its own name. */
  namespace: string;
  /** Whether that namespace carries the PHI label. */
  phi?: boolean;
}

/** Lists the webhook entries of one configuration that the API server would call for a request, judged by rules and namespaceSelector. */
function matchingEntries(kind: string, request: RequestShape): string[] {
  return webhooksOf(kind)
    .filter((entry) =>
      (entry.rules as Manifest[]).some(
        (rule) =>
          (rule.apiGroups as string[]).includes(request.group) &&
          (rule.resources as string[]).includes(request.resource) &&
          (rule.operations as string[]).includes(request.operation),
      ),
    )
    .filter((entry) =>
      (entry.namespaceSelector.matchExpressions as Manifest[]).every((expression) => {
        const value = expression.key === 'kubernetes.io/metadata.name' ? request.namespace : request.phi === true ? 'true' : undefined;
        const listed = value !== undefined && (expression.values as string[]).includes(value);
        return expression.operator === 'In' ? listed : !listed;
      }),
    )
    .map((entry) => entry.name as string);
}

describe('requests reach at most one entry', () => {
  it.each([
    ['pod create in a workload namespace', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'billing', phi: true }, ['pods.phi-mesh-guard.io']],
    ['pod exec in a workload namespace', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods/exec', operation: 'CONNECT', namespace: 'billing', phi: true }, ['pods.phi-mesh-guard.io']],
    ['ephemeral container update', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods/ephemeralcontainers', operation: 'UPDATE', namespace: 'billing', phi: true }, ['pods.phi-mesh-guard.io']],
    ['pod create outside PHI namespaces', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'marketing' }, []],
    ['deployment outside PHI namespaces', 'ValidatingWebhookConfiguration', { group: 'apps', resource: 'deployments', operation: 'CREATE', namespace: 'marketing' }, []],
    ['pod mutation outside PHI namespaces', 'MutatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'marketing' }, []],
    ['pod status update', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods/status', operation: 'UPDATE', namespace: 'billing' }, []],
    ['cronjob update', 'ValidatingWebhookConfiguration', { group: 'batch', resource: 'cronjobs', operation: 'UPDATE', namespace: 'billing', phi: true }, ['workloads.phi-mesh-guard.io']],
    ['namespace update of a workload namespace', 'ValidatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'UPDATE', namespace: 'billing' }, ['namespaces.phi-mesh-guard.io']],
    ['namespace delete of istio-system', 'ValidatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'DELETE', namespace: 'istio-system' }, ['istio-system.phi-mesh-guard.io']],
    ['namespace update of kube-system', 'ValidatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'UPDATE', namespace: 'kube-system' }, []],
    ['namespace delete of the guard namespace', 'ValidatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'DELETE', namespace: 'phi-mesh-guard' }, []],
    ['peer authentication in a workload namespace', 'ValidatingWebhookConfiguration', { group: 'security.istio.io', resource: 'peerauthentications', operation: 'CREATE', namespace: 'billing' }, ['istio.phi-mesh-guard.io']],
    ['peer authentication delete in istio-system', 'ValidatingWebhookConfiguration', { group: 'security.istio.io', resource: 'peerauthentications', operation: 'DELETE', namespace: 'istio-system' }, ['istio-system.phi-mesh-guard.io']],
    ['authorization policy in istio-system', 'ValidatingWebhookConfiguration', { group: 'security.istio.io', resource: 'authorizationpolicies', operation: 'UPDATE', namespace: 'istio-system' }, ['istio-system.phi-mesh-guard.io']],
    ['destination rule in istio-system', 'ValidatingWebhookConfiguration', { group: 'networking.istio.io', resource: 'destinationrules', operation: 'CREATE', namespace: 'istio-system' }, ['istio-system.phi-mesh-guard.io']],
    ['pod create in istio-system', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'istio-system' }, []],
    ['pod create in kube-system', 'ValidatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'kube-system' }, []],
    ['pod mutation in a workload namespace', 'MutatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'billing', phi: true }, ['pods.phi-mesh-guard.io']],
    ['pod mutation in istio-system', 'MutatingWebhookConfiguration', { group: '', resource: 'pods', operation: 'CREATE', namespace: 'istio-system' }, []],
    ['namespace mutation on create', 'MutatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'CREATE', namespace: 'billing' }, ['namespaces.phi-mesh-guard.io']],
    ['namespace mutation of istio-system', 'MutatingWebhookConfiguration', { group: '', resource: 'namespaces', operation: 'UPDATE', namespace: 'istio-system' }, []],
  ] as const)('%s', (_name, kind, request, expected) => {
    expect(matchingEntries(kind, request)).toEqual(expected);
  });
});
