/**
 * Kubernetes components: folders holding a kustomization (like `k8s/clusters/home/*`). strata wraps the folder in
 * a temporary overlay that adds the stack's vars as a ConfigMap `strata-vars` (annotated local-config, so kustomize
 * drops it from the output unless settings.kubernetes.emit_vars is true) and the stack's
 * settings.kubernetes.replacements / namespace, so kustomize `replacements` can copy stack values into manifests.
 */
import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative, resolve } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { StrataError, UsageError } from '../../errors.ts';
import { privateDirShown } from '../../secrets/tempfile.ts';
import type { DryRunPlan } from '../../util/plan.ts';
import { yaml } from '../../util/yaml-lib.ts';
import {
  checkRestrictions,
  componentEnv,
  disabledNotice,
  envValue,
  requireComponentDir,
  section,
  setting,
  toolCommand,
} from '../common.ts';
import { withHandover } from '../handover.ts';
import { type ExecuteOptions, executeSteps, planSteps, type Step } from '../steps.ts';

export const KUBERNETES_VERBS = ['render', 'diff', 'apply', 'delete', 'wait'] as const;
export const VARS_CONFIGMAP = 'strata-vars';

export interface KubernetesOptions extends ExecuteOptions {
  verb: string;
  args?: string[];
  dryRun?: boolean;
}

export interface KubernetesResult {
  exitCode: number;
  skipped?: string;
  /** The dry run, when asked for: the files and commands, nothing run. */
  dryRun?: DryRunPlan;
}

/** Top-level vars as ConfigMap data: scalars as text, maps and lists as JSON (ConfigMap values are strings). */
export function varsConfigMap(instance: ComponentInstance, emit: boolean): Record<string, unknown> {
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(section(instance.description.vars))) {
    const text = envValue(value);
    if (text !== undefined) data[key] = text;
  }
  const annotations: Record<string, string> = {
    'strata.dev/stack': instance.stack,
    'strata.dev/component': instance.name,
  };
  if (!emit) annotations['config.kubernetes.io/local-config'] = 'true';
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: VARS_CONFIGMAP, annotations }, data };
}

/** The overlay's kustomization.yaml, pointing at the component folder by a relative path (kustomize needs one). */
export function overlayKustomization(instance: ComponentInstance, overlayDir: string): Record<string, unknown> {
  const kustomization: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [relative(overlayDir, instance.componentDir) || '.', 'strata-vars.yaml'],
  };
  const namespace = setting(instance, 'kubernetes', 'namespace');
  if (typeof namespace === 'string' && namespace !== '') kustomization.namespace = namespace;
  const replacements = setting(instance, 'kubernetes', 'replacements');
  if (Array.isArray(replacements) && replacements.length > 0) kustomization.replacements = replacements;
  return kustomization;
}

/** KUBECONFIG from settings.kubernetes.kubeconfig (relative to the base path) and `--context` from settings. */
function clusterAccess(
  config: StrataConfig,
  instance: ComponentInstance,
): { env: Record<string, string | undefined>; flags: string[] } {
  const env: Record<string, string | undefined> = {};
  const kubeconfig =
    setting(instance, 'kubernetes', 'kubeconfig') ?? setting(instance, 'kubernetes', 'kubeconfig_path');
  if (typeof kubeconfig === 'string' && kubeconfig !== '') {
    env.KUBECONFIG = isAbsolute(kubeconfig) ? kubeconfig : resolve(config.basePath, kubeconfig);
  }
  const context = setting(instance, 'kubernetes', 'context');
  return { env, flags: typeof context === 'string' && context !== '' ? [`--context=${context}`] : [] };
}

/**
 * A kubeconfig the stack names (settings.kubernetes.kubeconfig or KUBECONFIG in the component's env) that does not
 * exist is reported here, naming the file and the stack: kubectl would fall back to localhost:8080 and say only
 * "connection refused". `--kubeconfig` among the native args overrides the stack's, so nothing is checked then.
 */
function requireKubeconfig(config: StrataConfig, instance: ComponentInstance, args: string[]): void {
  if (args.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='))) return;
  const named = clusterAccess(config, instance).env.KUBECONFIG ?? componentEnv(config, instance).KUBECONFIG;
  if (named === undefined || named === '') return;
  const files = named.split(delimiter).filter((f) => f !== '');
  // kubectl merges the files of a KUBECONFIG list and skips missing ones: only all of them missing is an error.
  if (files.length === 0 || files.some((f) => existsSync(f))) return;
  throw new StrataError(
    `the kubeconfig of '${instance.name}' in stack '${instance.stack}' does not exist: ${files.join(', ')}`,
    {
      hint: 'create it (for a new cluster, the workflow that fetches its kubeconfig), or fix KUBECONFIG in the component env / settings.kubernetes.kubeconfig',
    },
  );
}

export function planKubernetes(
  config: StrataConfig,
  instance: ComponentInstance,
  options: KubernetesOptions,
  overlayDir: string,
): Step[] {
  const command = toolCommand(config, instance, 'kubectl');
  const access = clusterAccess(config, instance);
  const env = { ...componentEnv(config, instance), ...access.env };
  const emit = setting(instance, 'kubernetes', 'emit_vars') === true;
  const rendered = join(overlayDir, 'rendered.yaml');
  const args = options.args ?? [];
  const steps: Step[] = [
    {
      type: 'write',
      path: join(overlayDir, 'kustomization.yaml'),
      content: yaml().stringify(overlayKustomization(instance, overlayDir)),
    },
    {
      type: 'write',
      path: join(overlayDir, 'strata-vars.yaml'),
      content: yaml().stringify(varsConfigMap(instance, emit)),
      mode: 0o600,
    },
  ];
  const cwd = instance.componentDir;
  if (options.verb === 'render') {
    steps.push({ type: 'run', role: 'main', command, args: ['kustomize', overlayDir, ...args], cwd, env });
    return steps;
  }
  steps.push({ type: 'run', role: 'render', command, args: ['kustomize', overlayDir], cwd, env, stdoutTo: rendered });
  let main: string[];
  if (options.verb === 'wait') {
    const wait = section(setting(instance, 'kubernetes', 'wait'));
    const extra: string[] = [];
    if (!args.some((a) => a.startsWith('--for'))) extra.push(`--for=${String(wait.for ?? 'condition=Available')}`);
    if (!args.some((a) => a.startsWith('--timeout'))) extra.push(`--timeout=${String(wait.timeout ?? '300s')}`);
    main = ['wait', ...access.flags, '-f', rendered, ...extra, ...args];
  } else {
    main = [options.verb, ...access.flags, '-f', rendered, ...args];
  }
  steps.push({ type: 'run', role: 'main', command, args: main, cwd, env });
  return steps;
}

/** Where the overlay goes: a private folder named for the tool. */
const OVERLAY = { prefix: 'strata-k8s-' };

export async function runKubernetes(
  config: StrataConfig,
  instance: ComponentInstance,
  options: KubernetesOptions,
): Promise<KubernetesResult> {
  if (!(KUBERNETES_VERBS as readonly string[]).includes(options.verb)) {
    throw new UsageError(`unknown kubernetes command '${options.verb}'`, {
      hint: `use one of: ${KUBERNETES_VERBS.join(', ')}`,
    });
  }
  checkRestrictions(instance, options.verb);
  if (!instance.enabled) return { exitCode: 0, skipped: disabledNotice(instance) };
  if (options.dryRun) {
    const steps = planKubernetes(config, instance, options, privateDirShown(OVERLAY));
    return { exitCode: 0, dryRun: planSteps(steps, config.basePath) };
  }
  requireComponentDir(instance);
  // The overlay (vars as a ConfigMap, secrets resolved) lives in a private folder removed afterwards.
  return withHandover(
    instance,
    async ({ instance: resolved, privateDir }) => {
      if (options.verb !== 'render') requireKubeconfig(config, resolved, options.args ?? []);
      const steps = planKubernetes(config, resolved, options, privateDir as string);
      return { exitCode: (await executeSteps(steps, options)).exitCode };
    },
    { ...OVERLAY, alwaysPrivate: true },
  );
}
