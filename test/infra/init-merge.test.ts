import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_ENV } from '../../bench/env.js';
import { buildFunctionCode } from '../../infra/constructs/bundling.js';
import { fixedExports } from '../../infra/constructs/fixed-exports.js';

const ROOT = path.resolve(__dirname, '../..');

describe('fixedExports (infra/constructs/fixed-exports.ts)', () => {
  const fixed = (code: string) => [...fixedExports(code)].sort();

  it('keeps bindings declared once at the top level and never assigned, under their exported names', () => {
    // Act
    const names = fixed(
      'const a = 1, { k: b } = {}; let c = []; var d; function f() { c.push(1); } class C {} ' +
        'export { a, b as B, c, d, f, C }; export const e = 2; export function g() {}',
    );

    // Assess: a binding's object may change (c is pushed to), the binding itself may not
    expect(names).toEqual(['B', 'C', 'a', 'c', 'd', 'e', 'f', 'g']);
  });

  it('leaves out every binding something assigns, in any form', () => {
    // Act
    const names = fixed(
      [
        'let n = 0, m = 0, p, q, r, s, t, u, kept = 1;',
        'function inc() { n++; --m; }',
        'function init() { p = {}; }',
        '[q, ...r] = [1, 2];',
        '({ k: s = 1 } = {});',
        'for (t of []);',
        'for (u in {});',
        'export { n, m, p, q, r, s, t, u, kept, inc, init };',
        'export let late; late ??= 1;',
      ].join('\n'),
    );

    // Assess
    expect(names).toEqual(['inc', 'init', 'kept']);
  });

  it('counts an assignment or a declaration of the same name in a nested scope against it (by name)', () => {
    // Act
    const names = fixed(
      'const a = 1, b = 2, c = 3; function f(a) { a = 2; } function g() { var b = 4; return b; } ' +
        'const h = () => { function c() {} return c; }; export { a, b, c, f, g, h };',
    );

    // Assess
    expect(names).toEqual(['f', 'g', 'h']);
  });

  it('leaves out imported bindings, re-exports, declarations in blocks, string names and every binding of a module that calls eval', () => {
    // Act
    const imported = fixed('import { z } from "./x.mjs"; import * as ns from "./y.mjs"; export { z, ns };');
    const reexported = fixed('export { q } from "./x.mjs"; export * from "./y.mjs";');
    const inBlock = fixed('if (globalThis.x) { var v = 1; } export { v };');
    const evaluating = fixed('const a = 1; let b = 2; eval("b = 3"); export { a, b };');
    const stringNamed = fixed('const a = 1; export { a as "b-c" };');

    // Assess
    expect([imported, reexported, inBlock, evaluating, stringNamed]).toEqual([[], [], [], [], []]);
  });
});

/** Builds a function in miniature from `files` (entry.ts among them) as the functions are built. */
function built(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'strongroom-merge-'));
  dirs.push(dir);
  for (const [name, code] of Object.entries(files)) writeFileSync(path.join(dir, name), code);
  const outdir = path.join(dir, 'out');
  const result = buildFunctionCode({ entry: path.join(dir, 'entry.ts'), outdir, projectRoot: ROOT });
  expect(result.errors).toEqual([]);
  return outdir;
}
const dirs: string[] = [];

/** What `script` prints last, parsed, run in a fresh process. */
async function run<T>(script: string): Promise<T> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...BENCH_ENV },
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

const url = (outdir: string, file: string) => JSON.stringify(pathToFileURL(path.join(outdir, file)).href);

/** The stand-ins a build left in chunks/: the modules that import index.mjs. */
const standInsOf = (outdir: string) =>
  readdirSync(path.join(outdir, 'chunks'))
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => readFileSync(path.join(outdir, 'chunks', f), 'utf8'))
    .filter((code) => code.includes('index.mjs"'));

// A function in miniature whose cold start and lazy chunk share a module: esbuild puts it in a chunk of its
// own, which the build merges into index.mjs. The lazy chunk reads the shared bindings after the handler has
// changed some of them.
const SHARED = `export let count = 0;
export let late: string | undefined;
export const table = { k: 1 };
export class Thing {}
export function bump() { count++; }
export function setLate(value: string) { late = value; }
`;
const LAZY = `import { count, late, table, Thing, bump } from './shared.ts';
export function read(ownTable: object, ownThing: unknown) {
  bump();
  return { count, late, sameTable: table === ownTable, sameClass: Thing === ownThing };
}
`;
const ENTRY = `import { bump, setLate, table, Thing } from './shared.ts';
export const handler = async () => {
  bump();
  setLate('set by the handler');
  const { read } = await import('./lazy.ts');
  return read(table, Thing);
};
`;

describe('the merge of the init chunks (infra/constructs/bundling.ts)', () => {
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('gives a lazy chunk the values of fixed bindings and the live value of changing ones', async () => {
    // Act: a fresh process loads index.mjs and runs the handler, which loads the lazy chunk
    const outdir = built({ 'shared.ts': SHARED, 'lazy.ts': LAZY, 'entry.ts': ENTRY });
    const { exports, result } = await run<{ exports: string[]; result: unknown }>(
      [
        `const bundle = await import(${url(outdir, 'index.mjs')});`,
        'console.log(JSON.stringify({ exports: Object.keys(bundle).sort(), result: await bundle.handler() }));',
      ].join('\n'),
    );

    // Assess: the counter bumped by both chunks and the variable set after load are read live; the table and
    // the class are the very objects the cold start made, through the one snapshot
    expect(result).toEqual({ count: 2, late: 'set by the handler', sameTable: true, sameClass: true });
    expect(exports).toHaveLength(4);
    expect(exports).toEqual(expect.arrayContaining(['$init', 'handler']));
    const standIns = standInsOf(outdir);
    expect(standIns).toHaveLength(1);
    expect(standIns[0]).toMatch(
      /^import\{\$init as s\}from"\.\/\.\.\/index\.mjs";const\{[^}]+\}=s;export\{[^}]+\};export\{/,
    );
  }, 60_000);

  it("hands on all 340 exports of a chunk, among whose names esbuild's sequence reaches the keyword `if`", async () => {
    // Arrange: 340 objects shared by the cold start and the lazy chunk
    const names = Array.from({ length: 340 }, (_, k) => `v${k}`);
    const outdir = built({
      'shared.ts': names.map((name, k) => `export const ${name} = { k: ${k} };\n`).join(''),
      'lazy.ts': `import * as S from './shared.ts';\nexport const read = () => [${names.map((n) => `S.${n}`)}];\n`,
      'entry.ts': [
        "import * as S from './shared.ts';",
        'export const handler = async () => {',
        `  const own = [${names.map((n) => `S.${n}`)}];`,
        "  const { read } = await import('./lazy.ts');",
        '  return read().every((value, k) => value === own[k] && value.k === k);',
        '};',
      ].join('\n'),
    });

    // Act
    const same = await run<boolean>(
      `const bundle = await import(${url(outdir, 'index.mjs')});\nconsole.log(JSON.stringify(await bundle.handler()));`,
    );

    // Assess: the stand-in exports `if` (and still parses), and the lazy chunk sees the very objects
    expect(standInsOf(outdir).join('')).toMatch(/\bs\d+ as if\b/);
    expect(same).toBe(true);
  }, 60_000);

  it('keeps index.mjs loading first for a lazy chunk that imports a shared module for its effects alone', async () => {
    // Arrange: a module that only sets a global, imported by the entry and the lazy chunk
    const outdir = built({
      'side.ts':
        '(globalThis as { marked?: number }).marked = ((globalThis as { marked?: number }).marked ?? 0) + 1;\n',
      'lazy.ts':
        "import './side.ts';\nexport const read = () => (globalThis as { marked?: number }).marked;\n",
      'entry.ts':
        "import './side.ts';\nexport const handler = async () => (await import('./lazy.ts')).read();\n",
    });
    const lazy = readdirSync(path.join(outdir, 'chunks')).find(
      (f) => f.startsWith('lazy-') && f.endsWith('.mjs'),
    );

    // Act: a fresh process loads the lazy chunk alone
    const marked = await run<number>(
      `const { read } = await import(${url(outdir, `chunks/${lazy}`)});\nconsole.log(JSON.stringify(read()));`,
    );

    // Assess: the shared module ran once, through index.mjs, which its stand-in still imports
    expect(standInsOf(outdir)).toEqual([expect.stringMatching(/^export\{\}from"\.\/\.\.\/index\.mjs";$/m)]);
    expect(marked).toBe(1);
  }, 60_000);
});
