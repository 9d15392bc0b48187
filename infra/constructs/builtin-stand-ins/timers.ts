/**
 * `node:timers` as @middy/core 6 sees it (see BUILTIN_STAND_INS in ../bundling.ts): the module's own
 * `setTimeout`, from the module object itself. Imported as an ES module, `node:timers` reads every export,
 * and its `promises` export loads `timers/promises` at every cold start.
 */
export const { setTimeout } = process.getBuiltinModule('node:timers');
