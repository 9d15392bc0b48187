import { afterAll, beforeAll } from 'vitest';

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
 * With `logLevel`, the handlers (loaded at their first request) log at that level.
 */
export function captureOutputOfFile(options: { logLevel?: 'DEBUG' } = {}): { text(): string } {
  let output: ReturnType<typeof captureProcessOutput> | undefined;
  beforeAll(() => {
    if (options.logLevel) process.env.POWERTOOLS_LOG_LEVEL = options.logLevel;
    output = captureProcessOutput();
  });
  afterAll(() => {
    output?.restore();
  });
  return { text: () => output?.text() ?? '' };
}
