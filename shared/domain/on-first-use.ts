/**
 * A value computed the first time it is read, not when its module loads: `const table = onFirstUse(() =>
 * build())`, read as `table()`, which builds once and returns that same value from then on. For what a
 * function's cold start would otherwise compute although its request may never read it: zod schemas
 * (re-exported as `z.onFirstUse`, shared/domain/zod.ts) and tables derived from constants. The value is
 * derived from constants only, so it is the same whenever and wherever it is first read: not state.
 *
 * A build that throws is not kept: the next read builds again (and throws again, as a bad table would).
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built = false;
  let value: T | undefined;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}
