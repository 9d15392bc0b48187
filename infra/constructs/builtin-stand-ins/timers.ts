/**
 * `node:timers` as @middy/core 6 sees it (see BUILTIN_STAND_INS in ../bundling.ts): the global `setTimeout`,
 * which is the module's own function. Imported as an ES module, `node:timers` reads every export, and its
 * `promises` export loads `timers/promises` at every cold start.
 */
export const setTimeout = globalThis.setTimeout;
