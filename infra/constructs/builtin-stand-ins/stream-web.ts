/**
 * `node:stream/web` as @middy/core 6 sees it (see BUILTIN_STAND_INS in ../bundling.ts). Middy imports
 * `ReadableStream` for one `instanceof` test in its streamifyResponse mode, which no function here uses, and
 * importing the module loads all of Node's web streams at every cold start. `instanceof` against this object
 * asks the global class, which Node loads on first use.
 */
export const ReadableStream = {
  [Symbol.hasInstance]: (value: unknown): boolean => value instanceof globalThis.ReadableStream,
};
