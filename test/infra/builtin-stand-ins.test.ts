import { execFile } from 'node:child_process';
import { Console as NodeConsole } from 'node:console';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { setTimeout as nodeSetTimeout } from 'node:timers';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Console } from '../../infra/constructs/builtin-stand-ins/console.js';
import { ReadableStream } from '../../infra/constructs/builtin-stand-ins/stream-web.js';
import { setTimeout } from '../../infra/constructs/builtin-stand-ins/timers.js';
import { buildFunctionCode, FUNCTION_ENTRY_FILE } from '../../infra/constructs/bundling.js';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Builds `source` as a function's entry point into a fresh directory (inside node_modules, as the bundle
 * tests build); returns the path of its index.mjs.
 */
function buildEntry(name: string, source: string): string {
  const dir = path.join(ROOT, 'node_modules', '.cache', 'builtin-stand-ins-test', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'entry.ts'), source);
  buildFunctionCode({ entry: path.join(dir, 'entry.ts'), outdir: path.join(dir, 'out'), projectRoot: ROOT });
  return path.join(dir, 'out', FUNCTION_ENTRY_FILE);
}

/**
 * The stand-ins bundled for Node modules (infra/constructs/bundling.ts BUILTIN_STAND_INS) behave as the real
 * exports do for what their importers do with them: @middy/core tests `instanceof ReadableStream` and calls
 * `setTimeout`; the Powertools logger and metrics construct `Console`.
 */
describe('builtin stand-ins', () => {
  it('answers instanceof ReadableStream as the real class does', () => {
    // Prepare
    const values = [
      new NodeReadableStream(),
      Readable.from(['a node stream']),
      new NodeReadableStream().pipeThrough(new TransformStream()),
      {},
      'text',
      null,
      undefined,
    ];

    // Act
    const answers = values.map((value) => value instanceof ReadableStream);

    // Assess
    expect(answers).toEqual(values.map((value) => value instanceof NodeReadableStream));
    expect(answers).toEqual([true, false, true, false, false, false, false]);
  });

  it('are the very functions the Node modules export', () => {
    // Assess
    expect(setTimeout).toBe(nodeSetTimeout);
    expect(Console).toBe(NodeConsole);
  });

  it('leave node:timers/promises to Node (an alias covers subpaths) and stand in for node:timers', async () => {
    // Prepare
    const file = buildEntry(
      'timers-promises',
      [
        "import { setTimeout } from 'node:timers';",
        "import { setTimeout as sleep } from 'node:timers/promises';",
        'export const handler = async () => ({',
        '  waited: await sleep(1, "slept"),',
        '  sameSetTimeout: setTimeout === globalThis.setTimeout,',
        '});',
      ].join('\n'),
    );

    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `console.log(JSON.stringify(await (await import(${JSON.stringify(pathToFileURL(file).href)})).handler()))`,
      ],
      { encoding: 'utf8' },
    );

    // Assess
    expect(JSON.parse(stdout.trim())).toEqual({ waited: 'slept', sameSetTimeout: true });
  });

  it('fail the build when an importer takes a name a stand-in does not export, even through a namespace', () => {
    // Act
    const build = () =>
      buildEntry(
        'namespace-import',
        "import * as timers from 'node:timers';\nexport const handler = () => timers.setImmediate;\n",
      );

    // Assess
    expect(build).toThrow(/setImmediate/);
  });
});
