import { afterAll, beforeAll } from 'vitest';
import { logger } from '../../shared/observability.js';

/**
 * Captures everything the process writes to stdout and stderr (Powertools writes its JSON logs there)
 * while still passing it through, so a test can grep the logs for secrets it created.
 */
export function captureProcessOutput() {
  const captured: string[] = [];
  const originals = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(originals.out) as typeof process.stdout.write;
  process.stderr.write = capture(originals.err) as typeof process.stderr.write;
  return {
    text: () => captured.join(''),
    restore: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/**
 * Captures the process output of a whole test file: from a `beforeAll` to an `afterAll` registered where it
 * is called (call it at the top level, before the file's own hooks). `text()` is what was written so far.
 *
 * With `logLevel`, the handlers log at that level for the whole file. The logger may have been made by an
 * earlier file in this worker, at another level, and Powertools puts it back to the level it was made with
 * on every warm invocation (`refreshSampleRateCalculation`, which also re-draws debug sampling, unused
 * here): so the level is set and that reset is held off until the file ends, then both are put back.
 */
export function captureOutputOfFile(options: { logLevel?: 'DEBUG' } = {}): { text(): string } {
  let output: ReturnType<typeof captureProcessOutput> | undefined;
  const before = {
    env: process.env.POWERTOOLS_LOG_LEVEL,
    level: logger.getLevelName(),
    refresh: Object.hasOwn(logger, 'refreshSampleRateCalculation')
      ? logger.refreshSampleRateCalculation
      : undefined,
  };
  beforeAll(() => {
    if (options.logLevel) {
      process.env.POWERTOOLS_LOG_LEVEL = options.logLevel;
      logger.setLogLevel(options.logLevel);
      logger.refreshSampleRateCalculation = () => {};
    }
    output = captureProcessOutput();
  });
  afterAll(() => {
    output?.restore();
    if (options.logLevel) {
      if (before.refresh) logger.refreshSampleRateCalculation = before.refresh;
      else delete (logger as { refreshSampleRateCalculation?: unknown }).refreshSampleRateCalculation;
      if (before.env === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
      else process.env.POWERTOOLS_LOG_LEVEL = before.env;
      logger.setLogLevel(before.level);
    }
  });
  return { text: () => output?.text() ?? '' };
}
