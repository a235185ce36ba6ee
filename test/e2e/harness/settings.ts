/** What the global setup hands to every test file through vitest's `inject('e2e')`. */
export interface E2eSettings {
  /** Temporary folder of this run: logs, certificates, kubeconfigs, records. */
  workDir: string;
  apiServer: { url: string; caFile: string; adminToken: string };
  /** kubeconfig with the contexts `admin`, `developer` and `break-glass`. */
  kubeconfig: string;
  kubectl: string;
  /** HOME for kubectl, so its discovery cache stays inside workDir. */
  kubectlHome: string;
  users: Record<'admin' | 'developer' | 'breakGlass', { name: string; groups: string[] }>;
  guard: { url: string; port: number; caFile: string; recordsFile: string; logFile: string; entryPoint: string };
  /** Base URL of the harness endpoint that stops and starts the guard. */
  controlUrl: string;
  /** Names of the guard's webhooks, by configuration kind, as the project's manifests define them. */
  webhookNames: { mutating: string[]; validating: string[] };
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eSettings;
  }
}
