/**
 * `!terraform.output` and `!terraform.state`: another component's outputs, read from its state without running
 * Terraform where the backend allows (local files, PostgreSQL, S3), else with `terraform output -json`.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { StrataConfig } from '../../config/types.ts';
import type { ComponentInstance } from '../../data/instance.ts';
import { runJq } from '../../data/jq.ts';
import { StrataError } from '../../errors.ts';
import type { TerraformOutputRef } from '../../functions/index.ts';
import { maskValue, section, withFolderLock } from '../common.ts';
import { executeSteps } from '../steps.ts';
import { workspaceName } from './files.ts';
import { withTerraformHandover } from './runner.ts';
import { fetchS3State } from './s3.ts';

/** What this module needs from the stack engine (the engine's StackEngine satisfies it). */
export interface OutputsEngine {
  config: StrataConfig;
  describeComponent(component: string, stack: string, options?: { kind?: string }): Promise<ComponentInstance>;
}

type Outputs = { provisioned: true; values: Record<string, unknown> } | { provisioned: false; why: string };

const caches = new WeakMap<object, Map<string, Promise<Outputs>>>();

/**
 * `readOnly` (describe and validate): outputs come only from what strata reads itself (local and pg state); nothing
 * is written into the component folder and Terraform does not run.
 */
export async function readTerraformOutput(
  engine: OutputsEngine,
  ref: TerraformOutputRef,
  mode: 'output' | 'state',
  options: { readOnly?: boolean } = {},
): Promise<unknown> {
  // A jq expression (`.ids[0] // "none"`, `.a | tostring`); as in Atmos, one not starting with `.` gets one
  // (`vpc_id` is `.vpc_id`).
  const expression = ref.expression.startsWith('.') ? ref.expression : `.${ref.expression}`;
  let cache = caches.get(engine);
  if (!cache) {
    cache = new Map();
    caches.set(engine, cache);
  }
  const key = `${mode}\u0000${ref.stack}\u0000${ref.component}\u0000${options.readOnly === true}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = loadOutputs(engine, ref, mode, options.readOnly === true);
    cache.set(key, pending);
    // A failure is not cached: the next evaluation may run after the dependency was provisioned.
    pending.catch(() => cache.delete(key));
  }
  const outputs = await pending;
  if (!outputs.provisioned) {
    // Atmos: a `//` anywhere gives the expression's default, computed on no outputs at all.
    if (expression.includes('//')) return runJq({}, expression, `!terraform.${mode} ${ref.component}`);
    throw new StrataError(
      `!terraform.${mode} ${ref.component} ${ref.stack}: component '${ref.component}' in stack '${ref.stack}' is not provisioned`,
      {
        details: outputs.why,
        hint: `run 'strata terraform deploy ${ref.component} -s ${ref.stack}' first, or give a default: ${ref.expression} // "value"`,
      },
    );
  }
  return runJq(outputs.values, expression, `!terraform.${mode} ${ref.component} ${ref.stack}`);
}

async function loadOutputs(
  engine: OutputsEngine,
  ref: TerraformOutputRef,
  mode: 'output' | 'state',
  readOnly: boolean,
): Promise<Outputs> {
  const instance = await engine.describeComponent(ref.component, ref.stack, { kind: 'terraform' });
  if (instance.description.remote_state_backend_type === 'static') {
    return { provisioned: true, values: section(instance.description.remote_state_backend) };
  }
  const outputs = await readOutputs(engine, instance, mode, readOnly);
  // The component's `mocks:` stand in for outputs it does not have yet (Atmos's terraform-component-mocks).
  const mocks = section(instance.description.mocks);
  return !outputs.provisioned && Object.keys(mocks).length > 0 ? { provisioned: true, values: mocks } : outputs;
}

async function readOutputs(
  engine: OutputsEngine,
  instance: ComponentInstance,
  mode: 'output' | 'state',
  readOnly: boolean,
): Promise<Outputs> {
  if (!instance.enabled) {
    return { provisioned: false, why: `it is disabled (metadata.enabled: false)` };
  }
  if (mode === 'state' || readOnly) {
    const state = await readState(engine.config, instance);
    if (state !== 'unsupported') return state;
  }
  if (readOnly) {
    const type = instance.description.backend_type || 'the one declared in its code';
    throw new StrataError(
      `reading the outputs of '${instance.name}' in stack '${instance.stack}' needs Terraform (backend ${type}), which describe and validate do not run`,
      {
        hint: `strata reads local and pg state itself; for others run 'strata terraform output ${instance.name} -s ${instance.stack}', or pass --process-functions=false or --skip terraform.${mode}`,
      },
    );
  }
  return runOutput(engine.config, instance);
}

/** Turns a state document's `outputs` into name -> value, registering sensitive ones with the masker. */
export function stateOutputs(state: unknown): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(section(section(state).outputs))) {
    const entry = section(output);
    if (entry.sensitive === true) maskValue(entry.value);
    values[name] = entry.value ?? null;
  }
  return values;
}

/** Reads the state straight from the backend; 'unsupported' for backends strata cannot read itself. */
export async function readState(config: StrataConfig, instance: ComponentInstance): Promise<Outputs | 'unsupported'> {
  if (!instance.description.backend_type) {
    // The backend is declared in the component's code: only Terraform knows its settings.
    const saved = await initialisedBackend(instance);
    if (saved && saved !== 'local') return 'unsupported';
  }
  const type = instance.description.backend_type || 'local';
  const backend = section(instance.description.backend);
  const workspace = workspaceName(config, instance);
  if (type === 'local') {
    const dir = instance.componentDir;
    const inDir = (p: string) => (isAbsolute(p) ? p : join(dir, p));
    const path =
      workspace === 'default'
        ? inDir(typeof backend.path === 'string' ? backend.path : 'terraform.tfstate')
        : join(
            inDir(typeof backend.workspace_dir === 'string' ? backend.workspace_dir : 'terraform.tfstate.d'),
            workspace,
            'terraform.tfstate',
          );
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return { provisioned: false, why: `no Terraform state at ${path} (workspace '${workspace}')` };
    }
    return { provisioned: true, values: stateOutputs(parseState(text, path)) };
  }
  if (type === 'pg') return readPgState(instance, backend, workspace);
  if (type === 's3') return readS3State(instance, backend, workspace);
  return 'unsupported';
}

/**
 * Without backend_type in the stack the backend may be declared in the component's own code: the type recorded by
 * the last `init` (`.terraform/terraform.tfstate`) says where the state is.
 */
async function initialisedBackend(instance: ComponentInstance): Promise<string | undefined> {
  try {
    const saved = JSON.parse(await readFile(join(instance.componentDir, '.terraform', 'terraform.tfstate'), 'utf8'));
    const type = section(section(saved).backend).type;
    return typeof type === 'string' && type !== '' ? type : undefined;
  } catch {
    return undefined;
  }
}

function parseState(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StrataError(`the Terraform state at ${where} is not valid JSON`, { cause: error });
  }
}

/** Terraform's s3 backend: one object per workspace. A role to assume is left to Terraform (`terraform output`). */
async function readS3State(
  instance: ComponentInstance,
  backend: Record<string, unknown>,
  workspace: string,
): Promise<Outputs | 'unsupported'> {
  if (section(backend.assume_role).role_arn || backend.role_arn) return 'unsupported';
  const object = await fetchS3State(instance, workspace).catch((error: StrataError) => {
    // Said as the function that asked: a stack has many values, this one read S3.
    const { details, hint } = error;
    throw new StrataError(`!terraform.state ${instance.name} ${instance.stack}: ${error.message}`, {
      details,
      hint,
      cause: error,
    });
  });
  if (!object.found) return { provisioned: false, why: object.why };
  return { provisioned: true, values: stateOutputs(parseState(object.text, object.where)) };
}

/** Terraform's pg backend: one row per workspace in `<schema_name>.states(name, data)`. */
async function readPgState(
  instance: ComponentInstance,
  backend: Record<string, unknown>,
  workspace: string,
): Promise<Outputs> {
  const env = section(instance.description.env);
  const connection =
    (typeof backend.conn_str === 'string' && backend.conn_str) ||
    (typeof env.PG_CONN_STR === 'string' && env.PG_CONN_STR) ||
    process.env.PG_CONN_STR;
  if (!connection) {
    throw new StrataError(`cannot read the pg state of '${instance.name}' in stack '${instance.stack}'`, {
      hint: 'set backend.conn_str in the stack, or PG_CONN_STR in its env: section or the environment',
    });
  }
  const schema = typeof backend.schema_name === 'string' ? backend.schema_name : 'terraform_remote_state';
  const where = `${schema}.states (workspace '${workspace}')`;
  // pg loads only when a pg state or store is read: it costs ~0.1 s at start-up.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: connection });
  try {
    await client.connect();
    const result = await client.query<{ data: string }>(
      `SELECT data FROM ${pg.escapeIdentifier(schema)}.states WHERE name = $1`,
      [workspace],
    );
    if (result.rows.length === 0) return { provisioned: false, why: `no state row in ${where}` };
    return { provisioned: true, values: stateOutputs(parseState(result.rows[0].data, where)) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // 42P01 undefined_table, 3F000 invalid_schema_name: Terraform creates them on the first write.
    if (code === '42P01' || code === '3F000') return { provisioned: false, why: `no table ${schema}.states yet` };
    if (error instanceof StrataError) throw error;
    throw new StrataError(`cannot read the pg state of '${instance.name}' in stack '${instance.stack}'`, {
      details: (error as Error).message,
      hint: 'check backend.conn_str / PG_CONN_STR (add ?sslmode=disable for a server without TLS)',
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `terraform output -json` after the usual var file, init and workspace steps, all quiet. */
async function runOutput(config: StrataConfig, instance: ComponentInstance): Promise<Outputs> {
  const lines: string[] = [];
  const options = { verb: 'output', args: ['-json'], color: false, interactive: false };
  const { planned, outcome } = await withFolderLock(instance.componentDir, () =>
    withTerraformHandover(config, instance, options, async (planned) => ({
      planned,
      outcome: await executeSteps(planned.steps, { captureMain: true, onLine: (line) => lines.push(line) }),
    })),
  );
  if (outcome.exitCode !== 0 || !outcome.main) {
    throw new StrataError(`cannot read the outputs of '${instance.name}' in stack '${instance.stack}'`, {
      details: [...lines, outcome.last?.stderr ?? ''].join('\n').trim(),
      hint: `check it with 'strata terraform output ${instance.name} -s ${instance.stack}'`,
    });
  }
  const parsed = section(parseState(`{"outputs":${outcome.main.stdout || '{}'}}`, 'terraform output -json'));
  if (Object.keys(section(parsed.outputs)).length === 0) {
    return { provisioned: false, why: `terraform output -json found no outputs (workspace '${planned.workspace}')` };
  }
  return { provisioned: true, values: stateOutputs(parsed) };
}
