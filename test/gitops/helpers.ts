import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mock } from 'node:test';

/** A real git repository in a temp folder, with a fixed identity and dates so runs are reproducible. */
export class TempRepo {
  readonly dir: string;
  constructor(prefix = 'strata-gitops-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.git('init', '-q', '-b', 'main');
  }
  git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: this.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
        GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
        GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
      },
    });
  }
  write(rel: string, text: string): void {
    const path = join(this.dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  remove(rel: string): void {
    rmSync(join(this.dir, rel), { recursive: true, force: true });
  }
  copy(from: string, rel: string): void {
    cpSync(from, join(this.dir, rel), { recursive: true });
  }
  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.head();
  }
  /** HEAD's commit, read from the ref file when HEAD names a loose branch ref (one git process less per commit). */
  head(): string {
    try {
      const ref = /^ref: (refs\/heads\/\S+)\n$/.exec(readFileSync(join(this.dir, '.git', 'HEAD'), 'utf8'))?.[1];
      const id = ref && readFileSync(join(this.dir, '.git', ref), 'utf8').trim();
      if (id && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(id)) return id;
    } catch {
      // a packed or missing ref: ask git
    }
    return this.git('rev-parse', 'HEAD').trim();
  }
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Date.now() a few seconds ahead (node:test's mock timers; Date only): the files and folders a test has just written
 * are old enough for their stamps to be trusted (stacks/file-stamp.ts, RACY_MS). Frozen: call it again for later runs.
 */
export function clockAhead(ms = 5000): void {
  mock.timers.reset();
  mock.timers.enable({ apis: ['Date'], now: Date.now() + ms });
}

/** The real clock again. */
export function realClock(): void {
  mock.timers.reset();
}
