import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Stack traces of a bundled function in terms of its TypeScript sources, with each bundle file's source map
 * read when a stack that passes through it is first formatted, not when the file loads.
 *
 * Why not `--enable-source-maps`: Node then reads, parses and indexes the map of every file as it loads it
 * (a character-by-character pass over the code, the map's JSON, its sources made absolute): a fifth of an
 * API function's cold start on Node 20 and twice the baseline bundle's share of it (the bench's cold imports
 * with and without the flag, interleaved), while most cold starts format no stack at all. Here a function's
 * first stack trace pays for its maps instead.
 *
 * A stack reads as Node's own source-mapped one (test/infra/stack-traces.test.ts compares them): the original
 * file, line and column of each frame, and the function's original name where the map records it (minified
 * names otherwise). Installed when shared/aws/runtime.ts loads, so an error thrown while a module evaluated
 * before it is not mapped (none of ours throws at load).
 */
export function formatStacksFromSourceMaps(): void {
  // Node maps stacks itself when source maps are on (NODE_OPTIONS), and tsx (local mode, tests) maps its own
  // transpiled files: replacing Error.prepareStackTrace would switch those off. Bundles only.
  if (process.sourceMapsEnabled || !import.meta.url.endsWith('.mjs')) return;
  Error.prepareStackTrace = prepareStackTrace;
}

const maps = new Map<string, SourceMap | null>();

/** The source map beside a bundle file (`file:///…/index.mjs.map`), read once; null when it has none. */
function sourceMapOf(fileUrl: string): SourceMap | null {
  let map = maps.get(fileUrl);
  if (map === undefined) {
    try {
      map = fileUrl.endsWith('.mjs')
        ? new SourceMap(JSON.parse(readFileSync(fileURLToPath(`${fileUrl}.map`), 'utf8')))
        : null;
    } catch {
      map = null;
    }
    maps.set(fileUrl, map);
  }
  return map;
}

interface Original {
  path: string;
  line: number;
  column: number;
  name?: string;
}

/** Where 1-based `line`:`column` of bundle file `fileUrl` came from, when its map says. */
function originalOf(fileUrl: string, line: number, column: number): Original | undefined {
  const map = sourceMapOf(fileUrl);
  if (!map) return undefined;
  const entry = map.findEntry(line - 1, column - 1) as Partial<{
    originalSource: string;
    originalLine: number;
    originalColumn: number;
    name: string;
  }>;
  if (entry.originalSource === undefined || entry.originalLine === undefined) return undefined;
  const source = new URL(entry.originalSource, fileUrl);
  return {
    path: source.protocol === 'file:' ? fileURLToPath(source) : source.href,
    line: entry.originalLine + 1,
    column: (entry.originalColumn ?? 0) + 1,
    name: entry.name,
  };
}

function formatFrame(frame: NodeJS.CallSite, next: NodeJS.CallSite | undefined): string {
  const file = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!file || !line || !column) return `    at ${frame}`;
  const original = originalOf(file, line, column);
  if (!original) return `    at ${frame}`;
  // The name as Node writes it: the type and the function or method V8 has (`Module.J`, `<anonymous>`),
  // replaced by the original name where the map records one, at the function's definition or else at its
  // call in the next frame of the same file.
  const enclosingLine = frame.getEnclosingLineNumber();
  const enclosingColumn = frame.getEnclosingColumnNumber();
  const defined =
    enclosingLine && enclosingColumn ? originalOf(file, enclosingLine, enclosingColumn)?.name : undefined;
  const nextLine = next?.getLineNumber();
  const nextColumn = next?.getColumnNumber();
  const called =
    next?.getFileName() === file && nextLine && nextColumn
      ? originalOf(file, nextLine, nextColumn)?.name
      : undefined;
  const typeName = frame.getTypeName();
  const v8Name = `${typeName !== null && typeName !== 'global' ? `${typeName}.` : ''}${frame.getFunctionName() ?? frame.getMethodName() ?? '<anonymous>'}`;
  const name = defined ?? called ?? v8Name;
  const prefix = frame.isAsync() ? 'async ' : frame.isConstructor() ? 'new ' : '';
  return `    at ${prefix}${name} (${original.path}:${original.line}:${original.column})`;
}

function prepareStackTrace(error: Error, frames: NodeJS.CallSite[]): string {
  // The first line as Node writes it: `Name: message` (`Error` for an object given to
  // Error.captureStackTrace), and Node's own errors with their code (`RangeError [ERR_OUT_OF_RANGE]: …`), which
  // their toString writes.
  let header: string;
  try {
    const own =
      error.toString !== Error.prototype.toString && typeof (error as { code?: unknown }).code === 'string';
    header = own ? String(error) : Error.prototype.toString.call(error);
  } catch {
    header = '<error>';
  }
  try {
    return [header, ...frames.map((frame, i) => formatFrame(frame, frames[i + 1]))].join('\n');
  } catch {
    // A stack trace must never throw: the frames as V8 would print them.
    return [header, ...frames.map((frame) => `    at ${frame}`)].join('\n');
  }
}
