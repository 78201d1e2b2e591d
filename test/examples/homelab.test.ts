// The bundled example repository (examples/homelab) checked with the real tools it ships for: yamllint,
// shellcheck, terraform, packer, kubectl kustomize and ansible-playbook. Install them with
// scripts/setup.sh (CI does). The structural checks read the files the way Atmos would, without the
// stack engine: imports in order, the importing file last, global vars under component vars.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseHcl } from '@cdktn/hcl2json';
import { parseAllDocuments, parse as parseYaml, type ScalarTag } from 'yaml';
import { type RunningSimulator, type SimSeed, startSimulator } from '../../src/proxmox/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/shared.ts';

const example = join(repoRoot, 'examples', 'homelab');
const stacksDir = join(example, 'stacks');
const scratch = mkdtempSync(join(tmpdir(), 'strata-homelab-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// Terraform: no CLI config warning, no version check, no prompts (real-tools notes, section 0).
const toolEnv: NodeJS.ProcessEnv = {
  ...process.env,
  TF_CLI_CONFIG_FILE: '',
  CHECKPOINT_DISABLE: '1',
  TF_IN_AUTOMATION: '1',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_HOME: join(scratch, 'ansible'),
  ANSIBLE_LOCAL_TEMP: join(scratch, 'ansible', 'tmp'),
};

interface Run {
  code: number;
  out: string;
}

function run(command: string, args: string[], cwd = example, env = toolEnv): Run {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    throw new Error(`${command} could not run (${result.error.message}); install it with scripts/setup.sh`);
  }
  return { code: result.status ?? 1, out: `${result.stdout}${result.stderr}` };
}

function assertRuns(command: string, args: string[], cwd = example): string {
  const result = run(command, args, cwd);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed in ${relative(repoRoot, cwd)}:\n${result.out}`);
  return result.out;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === '.terraform') return [];
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
const allFiles = walk(example);

// `!env NAME` stays recognisable after parsing, so the tests can tell secrets from the environment apart.
interface EnvRef {
  env: string;
}
const envTag: ScalarTag = { tag: '!env', resolve: (value: string): EnvRef => ({ env: value }) };
const isEnvRef = (value: unknown): value is EnvRef =>
  typeof value === 'object' && value !== null && 'env' in value && Object.keys(value).length === 1;

type Doc = Record<string, unknown>;
const isMap = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

function readYaml(path: string): Doc {
  const doc = parseYaml(readFileSync(path, 'utf8'), { customTags: [envTag] }) as unknown;
  assert.ok(isMap(doc), `${relative(example, path)} must hold a YAML mapping`);
  return doc;
}

// Atmos deep merge: maps merge recursively, anything else is replaced by the later value.
function merge(base: Doc, over: Doc): Doc {
  const out: Doc = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] = isMap(prior) && isMap(value) && !isEnvRef(value) ? merge(prior, value) : value;
  }
  return out;
}

// A stack manifest with its imports resolved: each import (recursively) in order, the file itself last.
function loadStack(manifest: string, seen: string[] = []): Doc {
  assert.ok(!seen.includes(manifest), `import cycle: ${[...seen, manifest].join(' -> ')}`);
  const doc = readYaml(join(stacksDir, `${manifest}.yaml`));
  const imports = (doc.import ?? []) as string[];
  let result: Doc = {};
  for (const name of imports) result = merge(result, loadStack(name, [...seen, manifest]));
  const { import: _ignored, ...own } = doc;
  return merge(result, own);
}

const atmos = readYaml(join(example, 'atmos.yaml'));
const kinds = (atmos.components ?? {}) as Record<string, { base_path: string }>;
const deployStacks = readdirSync(join(stacksDir, 'deploy'))
  .filter((name) => name.endsWith('.yaml') && !name.startsWith('_'))
  .map((name) => `deploy/${basename(name, '.yaml')}`);

function stackName(stack: Doc): string {
  // name_pattern "{tenant}-{stage}": only Atmos's context tokens, values from the global vars.
  const vars = (stack.vars ?? {}) as Doc;
  const pattern = (atmos.stacks as Doc).name_pattern as string;
  return pattern
    .split('-')
    .map((token) => {
      const key = /^\{(namespace|tenant|environment|stage)\}$/.exec(token)?.[1];
      assert.ok(key, `unsupported token ${token} in name_pattern`);
      const value = vars[key];
      assert.equal(typeof value, 'string', `vars.${key} must be set for the stack name`);
      return value;
    })
    .join('-');
}

const stacks = new Map(deployStacks.map((manifest) => [manifest, loadStack(manifest)]));
const stackNames = new Map([...stacks.values()].map((doc) => [stackName(doc), doc]));

function componentSection(stack: Doc, kind: string, name: string): Doc {
  const section = ((stack.components as Doc | undefined)?.[kind] as Doc | undefined)?.[name];
  assert.ok(isMap(section), `component ${kind}/${name} is not defined`);
  return section;
}

function componentVars(stack: Doc, kind: string, name: string): Doc {
  return merge((stack.vars ?? {}) as Doc, (componentSection(stack, kind, name).vars ?? {}) as Doc);
}

function componentSettings(stack: Doc, kind: string, name: string): Doc {
  return merge((stack.settings ?? {}) as Doc, (componentSection(stack, kind, name).settings ?? {}) as Doc);
}

// The stacks' var templates are plain field references ({{ .settings.proxmox.node }}); the test asserts that,
// then resolves them by path to check the values that come out. The stack engine has its own tests.
const fieldRef = /\{\{\s*\.(vars|settings)((?:\.[A-Za-z0-9_-]+)+)\s*\}\}/g;

function lookupPath(root: Doc, path: string): unknown {
  return path
    .split('.')
    .slice(1)
    .reduce<unknown>((at, key) => (isMap(at) ? at[key] : undefined), root);
}

function renderedVars(stack: Doc, kind: string, name: string): Doc {
  const vars = componentVars(stack, kind, name);
  const data: Doc = { vars, settings: componentSettings(stack, kind, name) };
  return Object.fromEntries(
    Object.entries(vars).map(([key, value]) => {
      if (typeof value !== 'string' || !value.includes('{{')) return [key, value];
      assert.ok(
        !value.replace(fieldRef, '').includes('{{'),
        `${kind}/${name}: vars.${key} uses more than field references`,
      );
      return [
        key,
        value.replace(fieldRef, (_, root: string, path: string) => String(lookupPath(data[root] as Doc, path))),
      ];
    }),
  );
}

function componentDir(stack: Doc, kind: string, name: string): string {
  const folder = ((componentSection(stack, kind, name).metadata as Doc | undefined)?.component as string) ?? name;
  return join(example, kinds[kind].base_path, folder);
}

async function hclBlocks(dir: string, suffix: string): Promise<Doc[]> {
  const files = readdirSync(dir).filter((name) => name.endsWith(suffix));
  return Promise.all(files.map(async (name) => (await parseHcl(name, readFileSync(join(dir, name), 'utf8'))) as Doc));
}

async function declaredVariables(dir: string, suffix: string): Promise<Map<string, Doc>> {
  const variables = new Map<string, Doc>();
  for (const doc of await hclBlocks(dir, suffix)) {
    for (const [name, blocks] of Object.entries((doc.variable ?? {}) as Record<string, Doc[]>)) {
      variables.set(name, blocks[0]);
    }
  }
  return variables;
}

describe('examples/homelab: stacks', () => {
  test('the deploy stacks are named pve-prod and pve-dev by the name pattern', () => {
    assert.deepEqual([...stackNames.keys()].sort(), ['pve-dev', 'pve-prod']);
    assert.deepEqual((atmos.stacks as Doc).included_paths, ['deploy/**/*']);
    assert.ok(((atmos.stacks as Doc).excluded_paths as string[]).includes('**/_defaults.yaml'));
    assert.equal((atmos.workflows as Doc).base_path, 'stacks/workflows');
    assert.equal(((atmos.templates as Doc).settings as Doc).enabled, true);
  });

  test('pve-prod carries the seed values for the k3s VM and its image', () => {
    const prod = stackNames.get('pve-prod');
    assert.ok(prod);
    const vars = renderedVars(prod, 'terraform', 'k3s-cluster');
    assert.equal(vars.vm_ip, '10.23.45.31/24');
    assert.equal(vars.vm_name, 'k3s-s1');
    assert.equal(vars.vm_cores, 4);
    assert.equal(vars.vm_memory, 24576);
    assert.equal(vars.vm_disk_size, '32G');
    assert.equal(vars.ci_user, 'admin');
    assert.equal(vars.vm_gateway, '10.23.45.1');
    assert.equal(vars.vm_nameserver, '10.23.45.1');
    assert.equal(vars.vm_node, 'pve');
    assert.equal(vars.vm_storage, 'vmdata');
    assert.equal(vars.vm_bridge, 'vmbr0');
    assert.equal(vars.pm_api_url, 'https://10.23.45.10:8006/api2/json');
    assert.equal(vars.pm_api_token_id, 'root@pam!terraform');
    assert.equal((vars.images as Doc)[vars.vm_image as string], 'alma9-k3-node-amd64-v1.28.5-v1');
    assert.deepEqual((vars.presets as Doc)[vars.vm_preset as string], { cores: 4, memory: 24576, disk: 32 });
    const packer = renderedVars(prod, 'packer', 'alma9-k3s-optimized');
    assert.equal(packer.proxmox_url, 'https://10.23.45.10:8006/api2/json');
    assert.equal(packer.k3s_version, 'v1.28.5+k3s1');
    assert.equal((packer.images as Doc)[packer.image_name as string], 'alma9-k3-node-amd64-v1.28.5-v1');
    assert.deepEqual([packer.vm_cores, packer.vm_memory, packer.vm_disk_size], [2, 4096, '20G']);
    // pve-dev builds and clones a template of its own.
    const dev = renderedVars(stackNames.get('pve-dev') ?? {}, 'terraform', 'k3s-cluster');
    assert.notEqual((dev.images as Doc)[dev.vm_image as string], (vars.images as Doc)[vars.vm_image as string]);
    assert.equal(dev.vm_ip, '10.23.45.41/24');
  });

  test('secrets come from the environment, never from the files', () => {
    for (const stack of stacks.values()) {
      const tf = componentVars(stack, 'terraform', 'k3s-cluster');
      assert.deepEqual(tf.pm_api_token_secret, { env: 'PM_API_TOKEN_SECRET' });
      const packer = componentVars(stack, 'packer', 'alma9-k3s-optimized');
      assert.deepEqual(packer.proxmox_token, { env: 'PROXMOX_TOKEN' });
    }
    // A Proxmox token secret is a UUID; none may appear in any file of the example.
    const uuid = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;
    for (const file of allFiles) {
      assert.ok(!uuid.test(readFileSync(file, 'utf8')), `${relative(example, file)} contains a UUID-like secret`);
    }
  });

  test('every component in the stacks has its folder, abstract ones excepted', () => {
    for (const stack of stacks.values()) {
      for (const [kind, components] of Object.entries(stack.components as Record<string, Doc>)) {
        assert.ok(kinds[kind], `atmos.yaml has no components.${kind}`);
        for (const [name, section] of Object.entries(components as Record<string, Doc>)) {
          if ((section.metadata as Doc | undefined)?.type === 'abstract') continue;
          const dir = componentDir(stack, kind, name);
          assert.ok(statSync(dir).isDirectory(), `${kind}/${name}: ${relative(example, dir)} is missing`);
        }
      }
    }
  });

  test('templates read settings or other vars, never their own var, and resolve', () => {
    for (const stack of stacks.values()) {
      for (const [kind, components] of Object.entries(stack.components as Record<string, Doc>)) {
        for (const [name, section] of Object.entries(components as Record<string, Doc>)) {
          if ((section.metadata as Doc | undefined)?.type === 'abstract') continue;
          const own = (section.vars ?? {}) as Doc;
          const data: Doc = { vars: componentVars(stack, kind, name), settings: componentSettings(stack, kind, name) };
          for (const [key, value] of Object.entries(own)) {
            if (typeof value !== 'string') continue;
            for (const [, root, path] of value.matchAll(fieldRef)) {
              assert.ok(!(root === 'vars' && path === `.${key}`), `${kind}/${name}: vars.${key} refers to itself`);
              const target = lookupPath(data[root] as Doc, path);
              assert.ok(
                typeof target === 'string' || typeof target === 'number',
                `${kind}/${name}: vars.${key}: ${root}${path} is not set`,
              );
              assert.ok(
                !String(target).includes('{{'),
                `${kind}/${name}: vars.${key}: ${root}${path} is itself a template`,
              );
            }
          }
        }
      }
    }
  });

  test('terraform and packer declare every var a stack gives them and get every required one', async () => {
    // strata validate stacks warns about undeclared vars; the example must validate without a warning.
    const checks: [string, string, string][] = [
      ['terraform', 'k3s-cluster', '.tf'],
      ['packer', 'alma9-k3s-optimized', '.pkr.hcl'],
    ];
    for (const [kind, name, suffix] of checks) {
      for (const [stackFile, stack] of stacks) {
        const declared = await declaredVariables(componentDir(stack, kind, name), suffix);
        const vars = componentVars(stack, kind, name);
        for (const [variable, block] of declared) {
          if (!('default' in block))
            assert.ok(variable in vars, `${stackFile}: ${kind}/${name} needs vars.${variable}`);
        }
        for (const key of Object.keys(vars)) {
          assert.ok(declared.has(key), `${stackFile}: ${kind}/${name} gets vars.${key}, which it does not declare`);
        }
      }
    }
  });
});

describe('examples/homelab: operator manifests', () => {
  const manifestDir = join(stacksDir, 'manifests');
  const manifests = readdirSync(manifestDir)
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => ({ name: basename(name, '.yaml'), doc: readYaml(join(manifestDir, name)) }));
  type Node = { name: string; type: string; preset?: string; image?: string; parent?: string; execution?: Doc };

  test('every manifest is schema v2 and its node graph is a forest', () => {
    assert.deepEqual(manifests.map((m) => m.name).sort(), ['k3s-single', 'nested-pve']);
    for (const { name, doc } of manifests) {
      assert.equal(doc.schema_version, 2, `${name}: schema_version must be the integer 2`);
      assert.equal(doc.name, name, `${name}: name must match the file name`);
      const nodes = doc.nodes as Node[];
      assert.ok(Array.isArray(nodes) && nodes.length > 0, `${name}: nodes must not be empty`);
      const byName = new Map(nodes.map((node) => [node.name, node]));
      assert.equal(byName.size, nodes.length, `${name}: node names must be unique`);
      for (const node of nodes) {
        assert.ok(['vm', 'ct', 'pve'].includes(node.type), `${name}/${node.name}: type ${node.type}`);
        if (node.parent !== undefined) {
          const parent = byName.get(node.parent);
          assert.ok(parent, `${name}/${node.name}: parent ${node.parent} does not exist`);
          assert.equal(parent.type, 'pve', `${name}/${node.name}: parent ${node.parent} must be a pve node`);
        }
        if (node.execution) assert.ok(['push', 'pull'].includes(node.execution.mode as string));
        // Walking up must end at a root: no cycles.
        const chain = new Set<string>();
        for (let at: Node | undefined = node; at; at = at.parent ? byName.get(at.parent) : undefined) {
          assert.ok(!chain.has(at.name), `${name}: cycle through ${at.name}`);
          chain.add(at.name);
        }
      }
      const settings = doc.settings as Doc;
      assert.ok(['stop', 'rollback', 'continue'].includes(settings.on_error as string));
      assert.equal(typeof settings.verify_ssh, 'boolean');
      assert.equal(typeof settings.cleanup_on_failure, 'boolean');
    }
  });

  test('nested-pve is a PVE node with two child VMs plus a top-level sibling VM', () => {
    const nodes = manifests.find((m) => m.name === 'nested-pve')?.doc.nodes as Node[];
    const pve = nodes.filter((node) => node.type === 'pve' && node.parent === undefined);
    assert.equal(pve.length, 1);
    const children = nodes.filter((node) => node.parent === pve[0].name);
    assert.equal(children.length, 2);
    assert.ok(children.every((node) => node.type === 'vm'));
    assert.ok(nodes.some((node) => node.type === 'vm' && node.parent === undefined));
  });

  test('every preset and image a manifest uses is defined for every stack', () => {
    for (const [stackFile, stack] of stacks) {
      const vars = (stack.vars ?? {}) as Doc;
      const presets = vars.presets as Record<string, Doc>;
      const images = vars.images as Record<string, unknown>;
      for (const preset of Object.values(presets)) {
        for (const key of ['cores', 'memory', 'disk']) assert.ok(Number.isInteger(preset[key]), `preset ${key}`);
      }
      for (const { name, doc } of manifests) {
        for (const node of doc.nodes as Node[]) {
          assert.ok(node.preset && node.preset in presets, `${stackFile}: ${name}/${node.name} preset ${node.preset}`);
          assert.ok(
            node.image && typeof images[node.image] === 'string',
            `${stackFile}: ${name}/${node.name} image ${node.image}`,
          );
        }
      }
    }
  });
});

describe('examples/homelab: workflows', () => {
  const workflowDir = join(stacksDir, 'workflows');
  type Step = { name?: string; type?: string; command?: string; until?: Doc; timeout?: string; interval?: string };
  const workflows = new Map<string, Step[]>();
  for (const file of readdirSync(workflowDir).filter((name) => name.endsWith('.yaml'))) {
    const doc = readYaml(join(workflowDir, file));
    for (const [name, workflow] of Object.entries(doc.workflows as Record<string, Doc>)) {
      assert.ok(!workflows.has(name), `workflow ${name} is defined twice`);
      assert.equal(typeof workflow.description, 'string', `${file}: ${name} needs a description`);
      workflows.set(name, workflow.steps as Step[]);
    }
  }

  function scriptOf(command: string): string | undefined {
    const first = command.trim().split(/\s+/)[0];
    return first.startsWith('./scripts/') ? join(example, first) : undefined;
  }

  test('the five workflows exist', () => {
    for (const name of [
      'deploy-homelab',
      'build-image',
      'deploy-infrastructure',
      'bootstrap-kubernetes',
      'destroy-infrastructure',
    ]) {
      assert.ok(workflows.get(name)?.length, `workflow ${name} is missing or empty`);
    }
  });

  test('every step is well formed and every atmos step names an existing component and stack', () => {
    const catalog = loadStack('catalog/proxmox');
    for (const [workflow, steps] of workflows) {
      const names = steps.map((step) => step.name);
      assert.equal(new Set(names).size, names.length, `${workflow}: step names must be unique`);
      for (const step of steps) {
        const where = `${workflow}/${step.name}`;
        assert.ok(step.name, `${workflow}: every step needs a name`);
        assert.ok(['atmos', 'shell', 'wait'].includes(step.type ?? ''), `${where}: type ${step.type}`);
        if (step.type === 'wait') {
          const until = step.until as Doc;
          const tcp = until.tcp as Doc | undefined;
          assert.ok(tcp || typeof until.command === 'string', `${where}: until needs tcp or command`);
          if (tcp) assert.ok(typeof tcp.host === 'string' && Number.isInteger(tcp.port), `${where}: tcp host/port`);
          assert.match(step.timeout ?? '', /^\d+[smh]$/, `${where}: timeout`);
          assert.match(step.interval ?? '', /^\d+[smh]$/, `${where}: interval`);
          const script = typeof until.command === 'string' ? scriptOf(until.command) : undefined;
          if (script) accessSync(script, constants.X_OK);
          continue;
        }
        const command = step.command ?? '';
        assert.ok(!/\bsleep\b/.test(command), `${where}: wait with a wait step, not sleep`);
        if (step.type === 'shell') {
          const script = scriptOf(command);
          if (script) accessSync(script, constants.X_OK);
          continue;
        }
        const [kind, subcommand, component, ...rest] = command.split(/\s+/);
        if (kind === 'validate' || kind === 'manifest') {
          // strata's own commands: a known verb, an existing manifest and stack.
          if (kind === 'validate') assert.ok(['stacks', 'component'].includes(subcommand), `${where}: ${command}`);
          else {
            assert.ok(['validate', 'plan', 'create', 'destroy', 'test'].includes(subcommand), `${where}: ${command}`);
            assert.ok(statSync(join(example, 'stacks/manifests', `${component}.yaml`)).isFile(), `${where}: manifest`);
          }
          if (rest.includes('-s')) assert.ok(stackNames.has(rest[rest.indexOf('-s') + 1]), `${where}: stack`);
          continue;
        }
        assert.ok(kinds[kind], `${where}: ${kind} is not a component kind of atmos.yaml`);
        assert.ok(subcommand && component, `${where}: "${command}" names no component`);
        const dir = componentDir(catalog, kind, component);
        assert.ok(statSync(dir).isDirectory(), `${where}: ${relative(example, dir)} does not exist`);
        const stack = rest[rest.indexOf('-s') + 1];
        assert.ok(rest.includes('-s') && stackNames.has(stack), `${where}: stack ${stack} does not exist`);
      }
    }
  });

  test('deploy-homelab verifies the image between the Packer build and the deployment', () => {
    const steps = workflows.get('deploy-homelab') ?? [];
    const build = steps.findIndex((step) => step.command?.startsWith('packer build'));
    const deploy = steps.findIndex((step) => step.command?.startsWith('terraform deploy'));
    assert.ok(build >= 0 && deploy > build);
    assert.ok(steps.slice(build + 1, deploy).some((step) => step.type === 'wait'));
  });
});

describe('examples/homelab: linters', () => {
  test('yamllint -s passes with the repository configuration', () => {
    assertRuns('yamllint', ['-s', '-c', '.yamllint', '.']);
  });

  test('every YAML file parses (all documents)', () => {
    for (const file of allFiles.filter((f) => /\.ya?ml$/.test(f))) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'), { customTags: [envTag] })) {
        assert.deepEqual(doc.errors, [], `${relative(example, file)}: ${doc.errors.join('; ')}`);
      }
    }
  });

  test('shellcheck passes on every script, and every script is executable', () => {
    const scripts = allFiles.filter((file) => file.endsWith('.sh'));
    assert.ok(scripts.length >= 8, `expected the repository's scripts, found ${scripts.length}`);
    for (const script of scripts) {
      accessSync(script, constants.X_OK);
      assert.match(readFileSync(script, 'utf8'), /^#!\/usr\/bin\/env bash\n/, `${relative(example, script)}: shebang`);
    }
    assertRuns('shellcheck', scripts);
  });

  test('ansible-playbook --syntax-check accepts the node preparation playbook', () => {
    assertRuns(
      'ansible-playbook',
      ['--syntax-check', '-i', 'localhost,', 'site.yml'],
      join(example, 'components/ansible/k3s-node-prep'),
    );
  });
});

describe('examples/homelab: terraform component k3s-cluster', () => {
  const dir = join(example, 'components/terraform/k3s-cluster');

  test('terraform fmt -check -recursive passes', () => {
    assertRuns('terraform', ['fmt', '-check', '-recursive', 'components/terraform']);
  });

  test('variables are typed and described, outputs described, versions pinned with ~>', async () => {
    const docs = await hclBlocks(dir, '.tf');
    const variables = await declaredVariables(dir, '.tf');
    for (const [name, block] of variables) {
      assert.match(String(block.type), /^\$\{.+\}$/s, `variable ${name} needs a type`);
      assert.ok(String(block.description ?? '').trim() !== '', `variable ${name} needs a description`);
    }
    assert.equal(variables.get('pm_api_token_secret')?.sensitive, true);
    for (const doc of docs) {
      for (const [name, blocks] of Object.entries((doc.output ?? {}) as Record<string, Doc[]>)) {
        assert.ok(blocks[0].description, `output ${name} needs a description`);
      }
    }
    const outputs = docs.flatMap((doc) => Object.keys((doc.output ?? {}) as Doc));
    assert.ok(outputs.includes('kubeconfig_command') && outputs.includes('vm_ip'));
    const settings = docs.flatMap((doc) => (doc.terraform ?? []) as Doc[]);
    assert.match(String(settings[0].required_version), /^~> /);
    const providers = (settings[0].required_providers as Doc[])[0] as Record<string, Doc>;
    assert.equal(providers.proxmox.source, 'bpg/proxmox');
    assert.match(String(providers.proxmox.version), /^~> /);
  });

  test('terraform validate, where the bpg/proxmox provider can be downloaded', (t) => {
    // Work on a copy: init writes .terraform and a lock file.
    const copy = join(scratch, 'k3s-cluster');
    cpSync(dir, copy, { recursive: true });
    const init = run('terraform', ['init', '-backend=false', '-input=false', '-no-color'], copy);
    if (init.code !== 0 && /registry\.terraform\.io|Failed to query available provider packages/.test(init.out)) {
      t.skip(
        'terraform init cannot download bpg/proxmox here (no registry access); validate needs the provider schema',
      );
      return;
    }
    assert.equal(init.code, 0, init.out);
    assertRuns('terraform', ['validate', '-no-color'], copy);
  });
});

describe('examples/homelab: packer component alma9-k3s-optimized', () => {
  const dir = join(example, 'components/packer/alma9-k3s-optimized');
  const version = /v?(\d+)\.(\d+)\.(\d+)/.exec(run('packer', ['version']).out);
  const modern = version !== null && (Number(version[1]) > 1 || Number(version[2]) >= 10);

  test('packer fmt -check passes', () => {
    assertRuns('packer', ['fmt', '-check', '.'], dir);
  });

  test('packer validate -syntax-only passes', () => {
    assert.match(assertRuns('packer', ['validate', '-syntax-only', '.'], dir), /Syntax-only check passed/);
  });

  test('packer inspect lists every declared variable, the build and the manifest post-processor', async () => {
    const out = assertRuns('packer', ['inspect', '.'], dir);
    const variables = await declaredVariables(dir, '.pkr.hcl');
    for (const [name, block] of variables) {
      assert.ok(out.includes(`var.${name}:`), `packer inspect does not list var.${name}`);
      assert.match(String(block.type), /^\$\{.+\}$/s, `variable ${name} needs a type`);
      assert.ok(String(block.description ?? '').trim() !== '', `variable ${name} needs a description`);
    }
    assert.equal(variables.get('proxmox_token')?.sensitive, true);
    const main = (await hclBlocks(dir, 'main.pkr.hcl'))[0];
    const source = ((main.source as Doc)['proxmox-iso'] as Doc)['alma9-k3s'] as Doc[];
    assert.equal(source[0].bios, 'ovmf');
    assert.equal(source[0].machine, 'q35');
    assert.equal(source[0].qemu_agent, true);
    const build = (main.build as Doc[])[0];
    const manifest = ((build['post-processor'] as Doc).manifest as Doc[])[0];
    assert.equal(manifest.output, 'manifest.json');
    for (const script of ['os-update', 'guest-agent', 'k3s-install', 'hardening-oscap', 'cleanup']) {
      accessSync(join(dir, 'scripts', `${script}.sh`), constants.X_OK);
    }
    assert.match(readFileSync(join(dir, 'scripts/k3s-install.sh'), 'utf8'), /--disable traefik/);
  });

  test('packer validate with the pve-prod vars, where Packer and its Proxmox plugin support the template', (t) => {
    if (!modern) {
      t.skip(
        `Packer ${version?.[0] ?? '(unknown)'} predates the Proxmox plugin: its built-in proxmox-iso has no bios, ` +
          'machine, efi_config, boot_iso or http_content; full validation needs Packer >= 1.10 with the plugin',
      );
      return;
    }
    if (!/proxmox/.test(run('packer', ['plugins', 'installed']).out)) {
      t.skip('the Packer Proxmox plugin is not installed (packer plugins install github.com/hashicorp/proxmox v1.2.2)');
      return;
    }
    const prod = stackNames.get('pve-prod');
    assert.ok(prod);
    const vars = componentVars(prod, 'packer', 'alma9-k3s-optimized');
    const resolved = Object.fromEntries(
      Object.entries(vars).map(([k, v]) => [k, isEnvRef(v) ? 'from-the-environment' : v]),
    );
    const varFile = join(scratch, 'pve-prod-alma9-k3s-optimized.packer.vars.json');
    writeFileSync(varFile, JSON.stringify(resolved));
    assertRuns('packer', ['validate', `-var-file=${varFile}`, '.'], dir);
  });
});

describe('examples/homelab: kubernetes manifests', () => {
  const kustomizations = allFiles
    .filter((file) => basename(file) === 'kustomization.yaml')
    .map((file) => dirname(file))
    .sort();

  function remoteResources(dir: string): string[] {
    const doc = readYaml(join(dir, 'kustomization.yaml'));
    return ((doc.resources ?? []) as string[]).flatMap((resource) => {
      if (/^(https?:\/\/|github\.com\/|git@)/.test(resource)) return [resource];
      const path = join(dir, resource);
      return statSync(path).isDirectory() ? remoteResources(path) : [];
    });
  }

  test('only the Argo CD installation needs the network to render', () => {
    const remote = kustomizations.filter((dir) => remoteResources(dir).length > 0).map((dir) => relative(example, dir));
    assert.deepEqual(remote, ['components/kubernetes/argo-bootstrap', 'k8s/clusters/home/bootstrap']);
    for (const url of remoteResources(join(example, 'k8s/clusters/home/bootstrap'))) {
      assert.match(url, /\/v\d+\.\d+\.\d+\//, `${url} must be pinned to a release`);
    }
  });

  test('kubectl kustomize renders every kustomization without a remote resource', () => {
    const local = kustomizations.filter((dir) => remoteResources(dir).length === 0);
    assert.ok(local.length >= 6, `expected the repository's kustomizations, found ${local.length}`);
    const kinds = new Set<string>();
    for (const dir of local) {
      const rendered = parseAllDocuments(assertRuns('kubectl', ['kustomize', dir]));
      assert.ok(rendered.length > 0, `${relative(example, dir)} renders nothing`);
      for (const doc of rendered) {
        const object = doc.toJS() as Doc;
        assert.ok(object.kind && (object.metadata as Doc).name, `${relative(example, dir)}: object without kind/name`);
        kinds.add(String(object.kind));
      }
    }
    for (const kind of [
      'Application',
      'AppProject',
      'Deployment',
      'Service',
      'ConfigMap',
      'StatefulSet',
      'Namespace',
    ]) {
      assert.ok(kinds.has(kind), `no ${kind} rendered`);
    }
  });

  test('the app-of-apps points at the home cluster and syncs automatically', () => {
    const app = readYaml(join(example, 'k8s/argo/app-of-apps.yaml'));
    assert.equal(app.kind, 'Application');
    const spec = app.spec as Doc;
    assert.equal((spec.source as Doc).path, 'k8s/clusters/home');
    assert.match(String((spec.source as Doc).repoURL), /CHANGE_ME/);
    assert.deepEqual((spec.syncPolicy as Doc).automated as Doc, { prune: true, selfHeal: true });
  });
});

describe('examples/homelab: against the Proxmox VE simulator', () => {
  // The pve host of the stacks: node pve, storage vmdata, the Packer template under the name of
  // images.alma9-k3s, and the two API tokens the stacks name.
  const template = 'alma9-k3-node-amd64-v1.28.5-v1';
  const seed: SimSeed = {
    nodes: [{ node: 'pve' }],
    storages: [
      { storage: 'local', type: 'dir', content: ['iso', 'vztmpl', 'snippets', 'import'] },
      {
        storage: 'vmdata',
        type: 'zfspool',
        content: ['images'],
        items: [{ volid: 'vmdata:base-9000-disk-0', content: 'images', format: 'raw', size: 20 * 1024 ** 3 }],
      },
    ],
    vms: [
      {
        vmid: 9000,
        name: template,
        node: 'pve',
        template: true,
        config: { agent: 1, cpu: 'host', scsi0: 'vmdata:base-9000-disk-0,size=20G', serial0: 'socket' },
      },
    ],
    users: [
      {
        userid: 'root@pam',
        privileges: { '/': ['Administrator'] },
        tokens: [
          { id: 'terraform', secret: 'tf-secret-0123456789', privsep: false },
          { id: 'packer', secret: 'pk-secret-0123456789', privsep: false },
        ],
      },
    ],
  } as SimSeed;
  let sim: RunningSimulator;
  const caFile = join(scratch, 'pve-root-ca.pem');

  async function withSimulator<T>(body: () => Promise<T>): Promise<T> {
    sim = await startSimulator({ latencyScale: 0, bootDelayMs: 0, seed });
    writeFileSync(caFile, sim.ca ?? '');
    try {
      return await body();
    } finally {
      await sim.close();
    }
  }

  // Asynchronous on purpose: the simulator answers from this process's event loop.
  function runAsync(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
    const { STRATA_PVE_TOKEN: _a, PROXMOX_VE_API_TOKEN: _b, PROXMOX_VE_ENDPOINT: _c, ...base } = toolEnv;
    const child = spawn(command, args, { cwd, env: { ...base, NO_COLOR: '1', ...env }, timeout: 60_000 });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    return new Promise<{ code: number; out: string }>((resolve) => {
      child.on('error', (error) => resolve({ code: 1, out: `${out}${error.message}` }));
      child.on('close', (code) => resolve({ code: code ?? 1, out }));
    });
  }

  test('scripts/pve-template-exists.sh finds the template through the API and fails while it is missing', async () => {
    await withSimulator(async () => {
      const script = join(example, 'scripts/pve-template-exists.sh');
      const env = { PROXMOX_TOKEN: 'pk-secret-0123456789', PROXMOX_CA_FILE: caFile };
      const api = `${sim.url}/api2/json`;
      const found = await runAsync(script, [api, 'pve', template, 'root@pam!packer'], example, env);
      assert.equal(found.code, 0, found.out);
      assert.match(found.out, new RegExp(`template ${template} is VM 9000`));
      const missing = await runAsync(script, [api, 'pve', 'not-built-yet', 'root@pam!packer'], example, env);
      assert.equal(missing.code, 1, missing.out);
      assert.match(missing.out, /not listed yet/);
      const denied = await runAsync(script, [api, 'pve', template, 'root@pam!packer'], example, {
        ...env,
        PROXMOX_TOKEN: 'wrong',
      });
      assert.notEqual(denied.code, 0);
      assert.match(denied.out, /401/);
    });
  });

  test('the operator creates k3s-single from the pve-prod stack and destroys it again', async () => {
    // The operator keeps state under the base path: run it in a copy of the example.
    const copy = join(scratch, 'homelab-operator');
    cpSync(example, copy, { recursive: true });
    await withSimulator(async () => {
      const strata = join(repoRoot, 'bin', 'strata.js');
      const env = {
        PROXMOX_VE_ENDPOINT: sim.url,
        PM_API_TOKEN_SECRET: 'tf-secret-0123456789', // strata:allow-secret (test fixture)
        STRATA_PVE_FINGERPRINT: sim.fingerprint,
      };
      const create = await runAsync(
        process.execPath,
        [strata, 'manifest', 'create', 'k3s-single', '-s', 'pve-prod'],
        copy,
        env,
      );
      assert.equal(create.code, 0, create.out);
      const vms = sim.state.vms as { vmid: number; name: string; status: string; config: Doc }[];
      const node = vms.find((vm) => vm.vmid === 99041);
      assert.ok(node, `VM 99041 was not created:\n${create.out}`);
      assert.equal(node.status, 'running');
      // Preset k3s-node of the catalog: 4 cores, 24576 MiB, the disk grown to 32 GiB.
      assert.equal(Number(node.config.cores), 4);
      assert.equal(Number(node.config.memory), 24576);
      assert.match(String(node.config.scsi0), /size=32G/);
      const destroy = await runAsync(
        process.execPath,
        [strata, 'manifest', 'destroy', 'k3s-single', '-s', 'pve-prod', '--yes'],
        copy,
        env,
      );
      assert.equal(destroy.code, 0, destroy.out);
      assert.ok(!(sim.state.vms as { vmid: number }[]).some((vm) => vm.vmid === 99041), 'VM 99041 is still there');
    });
  });
});

describe('examples/homelab: with strata', () => {
  test('strata validate stacks passes without a single warning', () => {
    const result = runCli(['validate', 'stacks'], { cwd: example });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /All stacks validated successfully/);
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /^!/m, 'validate stacks printed warnings');
  });

  test('strata plans every step of deploy-homelab in order (dry run)', () => {
    // deploy-homelab holds every kind of step the other workflows use.
    const result = runCli(['workflow', 'deploy-homelab', '-f', 'deploy', '--dry-run'], { cwd: example });
    assert.equal(result.code, 0, result.stderr);
    const workflows = readYaml(join(stacksDir, 'workflows', 'deploy.yaml')).workflows as Record<
      string,
      { steps: { name: string }[] }
    >;
    const lines = result.stdout.split('\n');
    const order = workflows['deploy-homelab'].steps.map((step) =>
      lines.findIndex((line) => line.startsWith(`${step.name}:`)),
    );
    assert.ok(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])),
      `steps missing or out of order:\n${result.stdout}`,
    );
    assert.match(result.stdout, /wait until tcp 10\.23\.45\.31:6443/);
  });

  test("strata validates the operator manifests with the stacks' presets and images", () => {
    for (const [manifest, stack] of [
      ['nested-pve', 'pve-prod'],
      ['k3s-single', 'pve-dev'],
    ]) {
      const result = runCli(['manifest', 'validate', manifest, '-s', stack], { cwd: example });
      assert.equal(result.code, 0, `${manifest} in ${stack}: ${result.stderr}`);
    }
  });
});
