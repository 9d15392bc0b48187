/**
 * `node:console` as the Powertools logger and metrics see it (see BUILTIN_STAND_INS in ../bundling.ts): the
 * module's own `Console` class, from the module object itself, without the ES import's reading of every
 * export.
 */
export const { Console } = process.getBuiltinModule('node:console');
