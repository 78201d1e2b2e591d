/**
 * Deterministic generator of a large Atmos-style repository: `tenants x regions x stages` stacks, each importing a
 * 4-deep chain of _defaults and catalog files, with `components` component instances per stack.
 * The same arguments always give the same bytes.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface GenerateOptions {
  dir: string;
  tenants?: number;
  regions?: number;
  stages?: number;
  components?: number;
  seed?: number;
}

export interface GeneratedRepo {
  dir: string;
  stacks: number;
  instances: number;
  files: number;
}

/** mulberry32: a tiny seeded PRNG, so the generated repository never changes between runs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateRepo(options: GenerateOptions): GeneratedRepo {
  const { dir, tenants = 10, regions = 5, stages = 10, components = 16, seed = 42 } = options;
  const random = prng(seed);
  rmSync(dir, { recursive: true, force: true });
  let files = 0;
  const write = (rel: string, text: string) => {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    files++;
  };
  write(
    'atmos.yaml',
    [
      'base_path: "."',
      'components:',
      '  terraform:',
      '    base_path: components/terraform',
      'stacks:',
      '  base_path: stacks',
      '  included_paths: ["orgs/**/*"]',
      '  excluded_paths: ["**/_defaults.yaml"]',
      '  name_pattern: "{tenant}-{environment}-{stage}"',
      '',
    ].join('\n'),
  );
  write(
    'stacks/mixins/common.yaml',
    'vars:\n  namespace: acme\n  managed_by: strata\nsettings:\n  spacelift:\n    workspace_enabled: true\n',
  );
  const regionNames = Array.from({ length: regions }, (_, i) => `r${i + 1}`);
  for (const region of regionNames) {
    write(
      `stacks/mixins/region/${region}.yaml`,
      `import:\n  - mixins/common\nvars:\n  region: ${region}\n  environment: ${region}\n`,
    );
  }
  const componentNames = Array.from({ length: components }, (_, i) => `svc-${String(i + 1).padStart(2, '0')}`);
  for (const name of componentNames) {
    const lines = [
      'import:',
      '  - mixins/common',
      'components:',
      '  terraform:',
      `    ${name}/defaults:`,
      '      metadata:',
      '        type: abstract',
      `        component: ${name}`,
      '      settings:',
      '        depends_on:',
      `          1: { component: ${componentNames[0]} }`,
      '      vars:',
      '        enabled: true',
      `        instance_type: t3.${['small', 'medium', 'large'][Math.floor(random() * 3)]}`,
      '        tags:',
      `          Service: ${name}`,
      '          Team: platform',
      '        subnets: [a, b, c]',
      '        limits:',
      `          cpu: ${Math.floor(random() * 8) + 1}`,
      `          memory: ${(Math.floor(random() * 16) + 1) * 512}`,
      '',
    ];
    write(`stacks/catalog/${name}.yaml`, lines.join('\n'));
  }
  let stacks = 0;
  let instances = 0;
  for (let t = 1; t <= tenants; t++) {
    const tenant = `t${t}`;
    write(
      `stacks/orgs/acme/${tenant}/_defaults.yaml`,
      `vars:\n  tenant: ${tenant}\nterraform:\n  vars:\n    cost_center: cc-${t}\n  backend_type: s3\n  backend:\n    s3:\n      bucket: acme-${tenant}-tfstate\n      region: r1\n`,
    );
    for (const region of regionNames) {
      write(
        `stacks/orgs/acme/${tenant}/${region}/_defaults.yaml`,
        `import:\n  - orgs/acme/${tenant}/_defaults\n  - mixins/region/${region}\n`,
      );
      for (let s = 1; s <= stages; s++) {
        const stage = `s${s}`;
        const body = [
          'import:',
          `  - orgs/acme/${tenant}/${region}/_defaults`,
          ...componentNames.map((c) => `  - catalog/${c}`),
          'vars:',
          `  stage: ${stage}`,
          'components:',
          '  terraform:',
        ];
        for (const c of componentNames) {
          body.push(
            `    ${c}:`,
            '      metadata:',
            `        component: ${c}`,
            '        inherits:',
            `          - ${c}/defaults`,
            '      vars:',
            `        name: ${c}-${tenant}-${region}-${stage}`,
            `        replicas: ${Math.floor(random() * 5) + 1}`,
          );
          instances++;
        }
        write(`stacks/orgs/acme/${tenant}/${region}/${stage}.yaml`, `${body.join('\n')}\n`);
        stacks++;
      }
    }
  }
  for (const c of componentNames) write(`components/terraform/${c}/main.tf`, 'variable "name" {\n  type = string\n}\n');
  return { dir, stacks, instances, files };
}
