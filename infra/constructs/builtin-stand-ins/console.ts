/**
 * `node:console` as the Powertools logger and metrics see it (see BUILTIN_STAND_INS in ../bundling.ts): the
 * `Console` class the global console carries, which is the module's own. Imported as an ES module,
 * `node:console` is loaded and every export read at every cold start.
 */
export const Console = globalThis.console.Console;
