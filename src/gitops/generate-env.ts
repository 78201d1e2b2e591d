/**
 * `generate env` (seed 003): one versioned set of every generated input of a stack, plus `metadata.json` listing
 * each file with its SHA-256 and the config version (git commit). No timestamps and sorted keys everywhere, so
 * the same commit always gives the same bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { withSensitiveMasked } from '../components/handover.ts';
import { backendDocument, workspaceName } from '../components/terraform/files.ts';
import type { ComponentInstance } from '../data/instance.ts';
import { StrataError } from '../errors.ts';
import { run } from '../exec/index.ts';
import type { EngineOptions } from '../stacks/engine.ts';
import { isPlainMap, loadEngine } from '../stacks/index.ts';
import { writeFileAtomicSync } from '../util/fs.ts';

export interface GenerateEnvOptions extends EngineOptions {
  stack: string;
  out: string;
}

export interface GeneratedFile {
  path: string;
  kind: string;
  component: string;
  purpose: string;
  sha256: string;
}

export interface EnvMetadata {
  stack: string;
  config_version: { commit: string | null; dirty: boolean };
  files: GeneratedFile[];
  checksum: string;
}

/** Stable JSON: keys sorted at every level, two-space indent, trailing newline. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    // A secret reference (or anything with its own JSON form) is written as that form: masked, never read.
    if (v && typeof (v as { toJSON?: unknown }).toJSON === 'function') return (v as { toJSON(): unknown }).toJSON();
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

const slug = (name: string) => name.replaceAll('/', '-');

function inputsOf(config: Parameters<typeof workspaceName>[0], instance: ComponentInstance) {
  const d = instance.description;
  const vars = isPlainMap(d.vars) ? d.vars : {};
  const base = `${instance.kind}/${slug(instance.name)}`;
  const files: Array<{ path: string; purpose: string; data: unknown }> = [];
  switch (instance.kind) {
    case 'terraform':
      files.push({ path: `${base}.tfvars.json`, purpose: 'terraform var file', data: vars });
      if (d.backend_type)
        files.push({
          path: `${base}.backend.tf.json`,
          purpose: 'terraform backend',
          data: backendDocument(instance, workspaceName(config, instance)),
        });
      break;
    case 'packer':
      files.push({ path: `${base}.pkrvars.json`, purpose: 'packer var file', data: vars });
      break;
    case 'ansible': {
      files.push({ path: `${base}/extra-vars.json`, purpose: 'ansible extra vars', data: vars });
      const ansible = isPlainMap(d.settings) && isPlainMap(d.settings.ansible) ? d.settings.ansible : {};
      const inventory = ansible.inventory;
      if (isPlainMap(inventory))
        files.push({ path: `${base}/inventory.json`, purpose: 'ansible inventory', data: inventory });
      else if (Array.isArray(inventory))
        files.push({
          path: `${base}/inventory.json`,
          purpose: 'ansible inventory',
          data: { all: { hosts: Object.fromEntries(inventory.map((h) => [String(h), {}])) } },
        });
      break;
    }
    default:
      files.push({ path: `${base}/values.json`, purpose: `${instance.kind} values`, data: vars });
  }
  return files;
}

async function configVersion(cwd: string): Promise<{ commit: string | null; dirty: boolean }> {
  const head = await run('git', ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd, stdio: 'capture' });
  if (head.exitCode !== 0) return { commit: null, dirty: false };
  const status = await run('git', ['status', '--porcelain'], { cwd, stdio: 'capture' });
  return { commit: head.stdout.trim(), dirty: status.stdout.trim() !== '' };
}

/** Writes the stack's generated inputs into `out` and returns the metadata written to `out/metadata.json`. */
export async function generateEnv(options: GenerateEnvOptions): Promise<EnvMetadata> {
  const engine = await loadEngine(options);
  const names = await engine.stackNames();
  if (!names.includes(options.stack)) {
    const near = await engine.closestStacks(options.stack);
    throw new StrataError(`stack '${options.stack}' not found`, {
      hint: near.length ? `did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : `stacks: ${names.join(', ')}`,
    });
  }
  const instances = (await engine.instances({ stack: options.stack }))
    .filter((i) => !i.abstract && i.enabled)
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  const out = resolve(options.cwd ?? process.cwd(), options.out);
  const previous = join(out, 'metadata.json');
  const stale = new Set<string>();
  if (existsSync(previous)) {
    try {
      for (const f of (JSON.parse(readFileSync(previous, 'utf8')) as EnvMetadata).files) stale.add(f.path);
    } catch {
      // Not ours or damaged: nothing to clean up from it.
    }
  }
  const files: GeneratedFile[] = [];
  for (const instance of instances) {
    // Secrets stay masked here: `!secret` values as their references, variables declared sensitive as ***.
    for (const file of inputsOf(engine.config, await withSensitiveMasked(instance))) {
      const content = stableJson(file.data);
      writeFileAtomicSync(join(out, file.path), content);
      stale.delete(file.path);
      files.push({
        path: file.path,
        kind: instance.kind,
        component: instance.name,
        purpose: file.purpose,
        sha256: createHash('sha256').update(content).digest('hex'),
      });
    }
  }
  for (const path of stale) {
    const target = resolve(out, path);
    // Only remove what a previous run listed, and only inside the output folder.
    if (!relative(out, target).startsWith('..')) rmSync(target, { force: true });
  }
  const checksum = createHash('sha256')
    .update(files.map((f) => `${f.sha256}  ${f.path}\n`).join(''))
    .digest('hex');
  const metadata: EnvMetadata = {
    stack: options.stack,
    config_version: await configVersion(engine.config.basePath),
    files,
    checksum,
  };
  writeFileAtomicSync(previous, stableJson(metadata));
  return metadata;
}
