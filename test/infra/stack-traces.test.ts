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

// A function in miniature, bundled as the functions are. Its handler returns the stacks of errors thrown from
// a named function, an anonymous callback, a method, a constructor, a Node API (whose errors carry a code),
// an async function and a chunk loaded with `await import()`.
const ENTRY = `import { functionRuntime } from ${JSON.stringify(path.join(ROOT, 'shared/aws/runtime.ts'))};
functionRuntime();
function failingStep(n: number): never {
  throw new Error('step ' + n + ' failed');
}
export function runSteps() {
  return failingStep(7);
}
class Widget {
  constructor(fail: boolean) { if (fail) throw new Error('constructor failed'); }
  spin(): never { throw new Error('method failed'); }
}
export const handler = async () => {
  const stacks: string[] = [];
  const grab = (f: () => unknown) => { try { f(); } catch (error) { stacks.push((error as Error).stack ?? ''); } };
  grab(() => runSteps());
  grab(() => [1].map(() => { throw new Error('callback failed'); }));
  grab(() => new Widget(false).spin());
  grab(() => new Widget(true));
  grab(() => Buffer.alloc(-1));
  const later = async () => { await Promise.resolve(); throw new Error('async step failed'); };
  try { await later(); } catch (error) { stacks.push((error as Error).stack ?? ''); }
  const { lateStep } = await import('./late.ts');
  grab(lateStep);
  return stacks;
};
`;
const LATE = `export function lateStep(): never {
  throw new TypeError('late step failed');
}
`;

let dir: string;
let outdir: string;

/**
 * What `script` (run after the bundle's index.mjs is imported as `bundle`, and after `before`, run ahead of
 * the import) prints last, parsed.
 */
async function inFreshProcess<T>(script: string, options: string[] = [], before = ''): Promise<T> {
  const lines = [
    before,
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

  it('name the TypeScript file, line, column and function as Node itself does, in index.mjs and in a lazy chunk', async () => {
    // Act: the same stacks with our mapping and with Node's (NODE_OPTIONS=--enable-source-maps)
    const handlerStacks = 'console.log(JSON.stringify(await bundle.handler()));';
    const ours = await inFreshProcess<string[]>(handlerStacks);
    const nodes = await inFreshProcess<string[]>(handlerStacks, ['--enable-source-maps']);

    // Assess: the same text, frame for frame
    expect(ours).toHaveLength(7);
    expect(ours).toEqual(nodes);
    const entry = path.join(dir, 'entry.ts');
    expect(ours[0]!.split('\n').slice(0, 3)).toEqual([
      'Error: step 7 failed',
      `    at failingStep (${entry}:4:9)`,
      `    at runSteps (${entry}:7:10)`,
    ]);
    expect(ours[1]!.split('\n')[1]).toBe(`    at <anonymous> (${entry}:17:36)`);
    expect(ours[4]!.split('\n')[0]).toMatch(/^RangeError \[ERR_OUT_OF_RANGE\]: /);
    expect(ours[6]!.split('\n')[1]).toMatch(
      new RegExp(
        `^ {4}at \\S+ \\(${path.join(dir, 'late.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:9\\)$`,
      ),
    );
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
    const replaced = (options: string[]) =>
      inFreshProcess<boolean>(
        'console.log(JSON.stringify(Error.prepareStackTrace !== before));',
        options,
        'const before = Error.prepareStackTrace;',
      );
    const before = Error.prepareStackTrace;
    formatStacksFromSourceMaps();

    // Assess: only a bundle without Node's source maps takes the stacks over
    expect(await replaced([])).toBe(true);
    expect(await replaced(['--enable-source-maps'])).toBe(false);
    expect(Error.prepareStackTrace).toBe(before);
  });
});
