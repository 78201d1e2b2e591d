import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { FileLookup, fileExists, resolveExtension } from '../../src/stacks/manifest-paths.ts';

type Entry = 'file' | 'folder' | 'link-to-file' | 'link-to-folder' | 'dangling-link';
const NAMES = ['a.yaml', 'a.yaml.tmpl', 'a.yml', 'a', 'b.yml.tmpl', 'b.yaml', 'c.json'];

test('FileLookup answers as a stat would: files, folders, links to either, dangling links, missing folders', () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.constantFrom(...NAMES),
        fc.constantFrom<Entry>('file', 'folder', 'link-to-file', 'link-to-folder', 'dangling-link'),
      ),
      fc.array(fc.constantFrom(...NAMES, 'missing/a.yaml', 'a.yaml/inner', 'zz'), { maxLength: 12 }),
      (entries, asked) => {
        const root = mkdtempSync(join(tmpdir(), 'strata-lookup-'));
        try {
          mkdirSync(join(root, 'target-folder'));
          writeFileSync(join(root, 'target-file'), 'x: 1\n');
          const dir = join(root, 'stacks');
          mkdirSync(dir);
          for (const [name, kind] of Object.entries(entries)) {
            const path = join(dir, name);
            if (kind === 'file') writeFileSync(path, 'x: 1\n');
            else if (kind === 'folder') mkdirSync(path);
            else if (kind === 'link-to-file') symlinkSync(join(root, 'target-file'), path);
            else if (kind === 'link-to-folder') symlinkSync(join(root, 'target-folder'), path);
            else symlinkSync(join(root, 'nowhere'), path);
          }
          const lookup = new FileLookup();
          for (const name of asked) assert.equal(lookup.isFile(join(dir, name)), fileExists(join(dir, name)), name);
          for (const base of ['a', 'a.yaml', 'b', 'c.json']) {
            const target = join(dir, base);
            assert.equal(resolveExtension(target, lookup.isFile), resolveExtension(target), base);
          }
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 100 },
  );
});
