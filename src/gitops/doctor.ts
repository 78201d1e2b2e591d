/**
 * `doctor backend`: proves that Terraform state locking works on a component's backend. In a scratch root module
 * that uses the component's backend settings and a throwaway workspace, a first `terraform apply` holds the state
 * lock (its provisioner waits for a signal file), a second run with -lock-timeout=0s must be refused with Terraform's
 * lock error, and after the holder finishes a third run must get the lock. The real state is never touched.
 * An s3 backend is first checked directly (credentials, bucket, versioning, lock table; doctor-s3.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terraformEnv, toolCommand } from '../components/common.ts';
import { backendDocument, workspaceName } from '../components/terraform/files.ts';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';
import type { EngineOptions } from '../stacks/engine.ts';
import { loadEngine } from '../stacks/index.ts';
import {
  type BootstrapStep,
  bootstrapS3,
  bootstrapTerraform,
  type DoctorCheck,
  s3BackendOf,
  s3Checks,
} from './doctor-s3.ts';

export type { DoctorCheck } from './doctor-s3.ts';

export interface DoctorReport {
  component: string;
  stack: string;
  backend_type: string;
  workspace: string;
  ok: boolean;
  checks: DoctorCheck[];
}

const HOLDER = `variable "signal_dir" {
  type = string
}
resource "terraform_data" "hold" {
  triggers_replace = [timestamp()]
  provisioner "local-exec" {
    command = "touch '\${var.signal_dir}/holding'; i=0; while [ ! -f '\${var.signal_dir}/release' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
  }
}
`;

const LOCK_ERROR = /Error acquiring the state lock/;

export async function doctorBackend(
  options: EngineOptions & { component: string; stack: string },
): Promise<DoctorReport> {
  const engine = await loadEngine(options);
  const instance = await engine.describeComponent(options.component, options.stack, { kind: 'terraform' });
  const type = String(instance.description.backend_type ?? '');
  if (!type) {
    throw new StrataError(`'${options.component}' in '${options.stack}' has no backend_type`, {
      hint: 'set backend_type and backend: in the stack (e.g. pg with conn_str, or s3 with use_lockfile/dynamodb_table)',
    });
  }
  const workspace = `strata-doctor-${randomBytes(4).toString('hex')}`;
  const report: DoctorReport = {
    component: instance.name,
    stack: instance.stack,
    backend_type: type,
    workspace,
    ok: false,
    checks: [],
  };
  if (type === 's3') {
    report.checks.push(...(await s3Checks(instance, await s3BackendOf(instance))));
    if (!report.checks.every((c) => c.ok)) return report;
  }
  const dir = mkdtempSync(join(tmpdir(), 'strata-doctor-'));
  const signals = join(dir, 'signals');
  const command = toolCommand(engine.config, instance, 'terraform');
  const env = { ...terraformEnv(engine.config, instance), TF_WORKSPACE: undefined, TF_DATA_DIR: undefined };
  const tf = (args: string[], signal?: AbortSignal) =>
    run(command, [...args], { cwd: dir, env, stdio: 'capture', signal, forceKillAfterMs: 2000 });
  const check = (step: string, ok: boolean, detail: string) => {
    report.checks.push({ step, ok, detail });
    return ok;
  };
  try {
    const backend = backendDocument(instance, workspaceName(engine.config, instance));
    writeFileSync(join(dir, 'backend.tf.json'), JSON.stringify(backend, null, 2));
    writeFileSync(join(dir, 'main.tf'), HOLDER);
    writeFileSync(join(dir, 'terraform.tfvars.json'), JSON.stringify({ signal_dir: signals }));
    mkdirSync(signals);
    const init = await tf(['init', '-input=false', '-no-color']);
    if (!check('init', init.exitCode === 0, lastLines(init.stderr || init.stdout))) return report;
    const ws = await tf(['workspace', 'new', '-no-color', workspace]);
    if (!check('workspace', ws.exitCode === 0, `scratch workspace ${workspace}`)) return report;

    const holder = tf(['apply', '-input=false', '-no-color', '-auto-approve']);
    const held = await waitFor(() => existsSync(join(signals, 'holding')), 60_000);
    if (!check('first taker holds the lock', held, held ? 'apply is running with the lock' : 'apply never started')) {
      writeFileSync(join(signals, 'release'), '');
      await holder;
      return report;
    }
    const second = await tf(['plan', '-input=false', '-no-color', '-lock-timeout=0s']);
    const refused = second.exitCode !== 0 && LOCK_ERROR.test(second.stderr + second.stdout);
    check(
      'second taker is refused',
      refused,
      refused
        ? firstLine(
            second.stderr.split('\n').find((l) => /Error message|Workspace is already locked|Lock Info/.test(l)),
          )
        : second.exitCode === 0
          ? 'a second plan got the lock while the first held it: this backend does not lock'
          : lastLines(second.stderr),
    );
    writeFileSync(join(signals, 'release'), '');
    const first = await holder;
    check('first taker finishes and releases', first.exitCode === 0, lastLines(first.stderr || first.stdout));
    const third = await tf(['plan', '-input=false', '-no-color', '-lock-timeout=10s']);
    check(
      'lock is free again',
      third.exitCode === 0,
      third.exitCode === 0 ? 'plan got the lock' : lastLines(third.stderr),
    );
    await tf(['destroy', '-input=false', '-no-color', '-auto-approve']);
    await tf(['workspace', 'select', '-no-color', 'default']);
    const removed = await tf(['workspace', 'delete', '-no-color', '-force', workspace]);
    check(
      'cleanup',
      removed.exitCode === 0,
      removed.exitCode === 0 ? `workspace ${workspace} deleted` : lastLines(removed.stderr),
    );
    report.ok = report.checks.every((c) => c.ok);
    return report;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BootstrapReport {
  component: string;
  stack: string;
  backend_type: string;
  /** What was created or found (absent with `print`). */
  steps?: BootstrapStep[];
  /** The Terraform that creates the same (with `print`). */
  terraform?: string;
}

/** Creates the s3 backend's bucket (versioned) and lock table, or with `print` only writes the Terraform for it. */
export async function bootstrapBackend(
  options: EngineOptions & { component: string; stack: string; print?: boolean },
): Promise<BootstrapReport> {
  const engine = await loadEngine(options);
  const instance = await engine.describeComponent(options.component, options.stack, { kind: 'terraform' });
  const type = String(instance.description.backend_type ?? '');
  if (type !== 's3') {
    throw new StrataError(`'${instance.name}' in '${instance.stack}' has backend_type '${type || 'none'}'`, {
      hint: 'bootstrap creates the bucket and lock table of an s3 backend; local and pg backends need nothing created',
    });
  }
  const report: BootstrapReport = { component: instance.name, stack: instance.stack, backend_type: type };
  if (options.print) report.terraform = bootstrapTerraform(await s3BackendOf(instance));
  else report.steps = await bootstrapS3(instance);
  return report;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim();
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').trim();
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return predicate();
}
