/**
 * Heavy modules that only a few routes need (an AWS client, pg, the S3 presigner, the Encryption SDK) are
 * loaded with `await import()` by those routes, not at cold start: infra/constructs/bundling.ts puts each
 * behind a chunk of its own, which a cold start neither parses nor runs.
 */

/** The members of `T` that are async functions: what a caller can wait for a load through. */
export type AsyncMembers<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => Promise<unknown> ? K : never]: T[K];
};

/**
 * A stand-in for the async methods of the object `make` returns, made (once) at the first call of any of them,
 * which then delegate to it. `make` runs at most once unless it fails, so a load that failed is tried again by the next call.
 * That holds for a chunk that could not be read; a module whose top level threw stays failed in Node's module
 * map for the life of the process, so a module loaded here must do no I/O and nothing that can fail at its
 * top level (none does: each only defines classes and functions).
 */
export function loadedOnUse<T extends object>(make: () => Promise<T>): AsyncMembers<T> {
  let made: Promise<T> | undefined;
  const load = () => {
    made ??= make().catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
  return new Proxy({} as AsyncMembers<T>, {
    get: (_target, name) => {
      if (typeof name === 'symbol' || name === 'then') return undefined;
      return async (...args: unknown[]) => {
        const target = await load();
        const member = target[name as keyof T] as unknown;
        if (typeof member !== 'function') throw new TypeError(`${String(name)} is not a method`);
        return member.apply(target, args);
      };
    },
  });
}
