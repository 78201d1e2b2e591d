/**
 * A real headless browser for tests of HTML output: Debian's chromium driven by playwright-core (no browser
 * download). Missing chromium fails in CI (`CI` set) and skips elsewhere with the reason.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { repoRoot } from './shared.ts';

export const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';

/** A test's `skip` option: false when chromium is there or in CI (where the test then fails loudly). */
export const skipWithoutChromium: false | string =
  existsSync(CHROMIUM) || process.env.CI ? false : `no chromium at ${CHROMIUM} (apt-get install chromium)`;

/** Where screenshots go: $STRATA_TEST_ARTIFACTS or test-artifacts/ in the repository (gitignored). */
export function artifactsDir(): string {
  const dir = resolve(process.env.STRATA_TEST_ARTIFACTS ?? join(repoRoot, 'test-artifacts'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts chromium headless, offline, with a fresh profile; `close` also removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is missing at ${CHROMIUM}: apt-get install chromium`);
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'strata-chromium-'));
  // A persistent context is playwright's way to pass a profile folder (it refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    offline: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
