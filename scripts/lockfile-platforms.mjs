#!/usr/bin/env node
// This workplace's npm registry mirror serves only the Linux builds of Biome, so `npm install` leaves the other
// platforms' optional packages out of package-lock.json and `npm ci` then refuses the lock as out of sync.
// This adds lock entries for them (no integrity: npm never fetches an optional package for another platform).
// Run after `npm install` changes the lock: node scripts/lockfile-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'android-arm64': { os: ['android'], cpu: ['arm64'] },
  'android-x64': { os: ['android'], cpu: ['x64'] },
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm64': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-x64': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
  'win32-arm64': { os: ['win32'], cpu: ['arm64'] },
  'win32-x64': { os: ['win32'], cpu: ['x64'] },
};
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dependency}`;
    const platform = /@biomejs\/cli-(.+)$/.exec(dependency)?.[1];
    if (lock.packages[key] || !platform || !PLATFORMS[platform]) continue;
    lock.packages[key] = {
      version: entry.optionalDependencies[dependency],
      dev: entry.dev,
      optional: true,
      ...PLATFORMS[platform],
    };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile-platforms: added ${added} entr${added === 1 ? 'y' : 'ies'}`);
