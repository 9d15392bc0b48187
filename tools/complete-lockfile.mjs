#!/usr/bin/env node
// The package registry this project is built against serves only some platforms' builds of packages such
// as @biomejs/cli-* and @rollup/rollup-*. `npm install` then leaves those optional dependencies out of
// package-lock.json, and `npm ci` refuses the lockfile ("Missing: … from lock file"). This adds the
// missing entries with their platform (os/cpu/libc), as a lockfile written against the full registry
// would have them; npm ci skips them on every other platform, so nothing is downloaded for them.
// Run after `npm install`: `node tools/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const OS = [
  'android',
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'openbsd',
  'openharmony',
  'netbsd',
  'sunos',
  'aix',
];
// Windows-only optional dependencies whose names carry no platform tokens (Vite's process start-time helper).
const WINDOWS_ONLY = ['napi-windows-process-start-time'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x'];
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const added = [];

for (const [key, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`;
    if (packages[target]) continue;
    const tokens = name.split('/').pop().split('-');
    if (WINDOWS_ONLY.includes(name)) {
      // The lowest version the range admits: npm ci wants one here, and never fetches it off Windows.
      const entry = { version: version.replace(/^[\^~]/, '') };
      if (meta.dev) entry.dev = true;
      packages[target] = { ...entry, optional: true, os: ['win32'] };
      added.push(`${name}@${version} (from ${key || 'root'})`);
      continue;
    }
    const os = tokens.find((t) => OS.includes(t));
    const cpu = tokens.find((t) => CPU.includes(t));
    if (!os || !cpu) continue; // not a platform build: leave it to npm
    const entry = { version };
    if (meta.dev) entry.dev = true;
    entry.optional = true;
    entry.os = [os];
    entry.cpu = [cpu];
    if (tokens.some((t) => t.startsWith('musl'))) entry.libc = ['musl'];
    else if (os === 'linux') entry.libc = ['glibc'];
    packages[target] = entry;
    added.push(`${name}@${version} (from ${key || 'root'})`);
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `added ${added.length} platform entries:\n  ${added.join('\n  ')}` : 'lockfile complete',
);
