// The whole-process floor of `describe stacks --format json`: parse every stack file with js-yaml, then write the
// same JSON the CLI wrote (read from <dir>/.describe.json). Plain JavaScript, so no compiler runs at start-up.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import jsyaml from 'js-yaml';

const dir = process.argv[2];
const walk = (folder) =>
  readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return walk(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
for (const file of walk(join(dir, 'stacks'))) jsyaml.load(readFileSync(file, 'utf8'));
const described = JSON.parse(readFileSync(join(dir, '.describe.json'), 'utf8'));
process.stdout.write(`${JSON.stringify(described, null, 2)}\n`);
