import { Console as NodeConsole } from 'node:console';
import { Readable } from 'node:stream';
import { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { setTimeout as nodeSetTimeout } from 'node:timers';
import { describe, expect, it } from 'vitest';
import { Console } from '../../infra/constructs/builtin-stand-ins/console.js';
import { ReadableStream } from '../../infra/constructs/builtin-stand-ins/stream-web.js';
import { setTimeout } from '../../infra/constructs/builtin-stand-ins/timers.js';

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
});
