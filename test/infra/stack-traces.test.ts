import { execFile } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_ENV } from '../../bench/env.js';
import { buildFunctionCode } from '../../infra/constructs/bundling.js';
import { formatStacksFromSourceMaps } from '../../shared/aws/stack-traces.js';

const ROOT = path.resolve(__dirname, '../..');

// A function in miniature, bundled as the functions are: its handler throws from a named function at load's
// module and from a chunk loaded with `await import()`, and returns both stacks.
const ENTRY = `import { functionRuntime } from ${JSON.stringify(path.join(ROOT, 'shared/aws/runtime.ts'))};
functionRuntime();
function failingStep(n: number): never {
  throw new Error('step ' + n + ' failed');
}
export function runSteps() {
  return failingStep(7);
}
export const handler = async () => {
  const stacks: string[] = [];
  try { runSteps(); } catch (error) { stacks.push((error as Error).stack ?? ''); }
  const { lateStep } = await import('./late.ts');
  try { lateStep(); } catch (error) { stacks.push((error as Error).stack ?? ''); }
  return stacks;
};
`;
const LATE = `export function lateStep(): never {
  throw new TypeError('late step failed');
}
`;

let dir: string;
let outdir: string;

/** What `script` (run after the bundle's index.mjs is imported as `bundle`) prints last, parsed. */
async function inFreshProcess<T>(script: string, options: string[] = []): Promise<T> {
  const lines = [
    `const bundle = await import(${JSON.stringify(pathToFileURL(path.join(outdir, 'index.mjs')).href)});`,
    script,
  ];
  // A fresh `node`, as Lambda starts one (no NODE_OPTIONS unless `options`).
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...options, '--input-type=module', '-e', lines.join('\n')],
    { env: { PATH: process.env.PATH ?? '', ...BENCH_ENV }, cwd: ROOT, encoding: 'utf8' },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
}

describe('stack traces of a bundled function (shared/aws/stack-traces.ts)', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'strongroom-stacks-'));
    writeFileSync(path.join(dir, 'entry.ts'), ENTRY);
    writeFileSync(path.join(dir, 'late.ts'), LATE);
    outdir = path.join(dir, 'out');
    const result = buildFunctionCode({ entry: path.join(dir, 'entry.ts'), outdir, projectRoot: ROOT });
    expect(result.errors).toEqual([]);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('name the TypeScript file, line, column and function, in index.mjs and in a lazy chunk alike', async () => {
    // Act
    const [atLoad, inChunk] = await inFreshProcess<string[]>(
      'console.log(JSON.stringify(await bundle.handler()));',
    );

    // Assess
    const entry = path.join(dir, 'entry.ts');
    expect(atLoad!.split('\n').slice(0, 3)).toEqual([
      'Error: step 7 failed',
      `    at failingStep (${entry}:4:9)`,
      `    at runSteps (${entry}:7:10)`,
    ]);
    // In the chunk the map names no function (nor does Node's own mapping): the location is what counts.
    const [header, frame] = inChunk!.split('\n');
    expect(header).toBe('TypeError: late step failed');
    expect(frame).toBe(`    at ${frame!.match(/at (\S+) /)?.[1]} (${path.join(dir, 'late.ts')}:2:9)`);
  });

  it('read a map when a stack is first formatted, not when the bundle loads', async () => {
    // Arrange
    const map = path.join(outdir, 'index.mjs.map');
    const moved = `${map}.away`;
    try {
      // Act: the map of index.mjs is moved away once the bundle has loaded, then a stack is formatted
      const stack = await inFreshProcess<string>(
        [
          `(await import('node:fs')).renameSync(${JSON.stringify(map)}, ${JSON.stringify(moved)});`,
          'try { bundle.runSteps(); } catch (error) { console.log(JSON.stringify(error.stack)); }',
        ].join('\n'),
      );

      // Assess: without its map the frames stay in the bundle, so nothing had read it at load
      expect(stack.split('\n')[1]).toMatch(/^ {4}at \S+ \(file:\/\/.*\/out\/index\.mjs:\d+:\d+\)$/);
    } finally {
      renameSync(moved, map);
    }
  });

  it('leave stacks to Node when NODE_OPTIONS turns source maps on, and to tsx outside a bundle', async () => {
    // Act: whether loading the bundle replaced Error.prepareStackTrace
    const replaced = async (options: string[]) => {
      const script = [
        'const before = Error.prepareStackTrace;',
        `await import(${JSON.stringify(pathToFileURL(path.join(outdir, 'index.mjs')).href)});`,
        'console.log(JSON.stringify(Error.prepareStackTrace !== before));',
      ].join('\n');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [...options, '--input-type=module', '-e', script],
        { env: { PATH: process.env.PATH ?? '', ...BENCH_ENV }, cwd: ROOT, encoding: 'utf8' },
      );
      return JSON.parse(stdout.trim().split('\n').pop() ?? '') as boolean;
    };
    const before = Error.prepareStackTrace;
    formatStacksFromSourceMaps();

    // Assess: only a bundle without Node's source maps takes the stacks over
    expect(await replaced([])).toBe(true);
    expect(await replaced(['--enable-source-maps'])).toBe(false);
    expect(Error.prepareStackTrace).toBe(before);
  });
});
