/**
 * zod, as every schema of the repository imports it: zod/mini, whose schemas are plain data checked by
 * functions (`z.optional(z.string().check(z.maxLength(64)))`) rather than objects carrying every method, so
 * a bundle holds only the checks it uses (31–35 KiB of a function's init where classic took 93–98), with zod's
 * English messages, which the API's problem details carry (`errors[].message`). zod/mini has no messages of
 * its own until a locale is configured; importing this module configures it.
 */
import { en } from 'zod/locales';
import type { core, output } from 'zod/mini';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';

/**
 * A schema built the first time it is read, not when its module loads: `export const TenantId =
 * z.onFirstUse(() => z.string().check(…))`, read as `TenantId()`, which builds it once and returns that same
 * schema object from then on (so a schema shared by several routes is one object, as the OpenAPI document's
 * `$ref`s need).
 *
 * Why: building zod schemas is a large share of an API function's cold start (each costs tens of
 * microseconds in a cold interpreter, and a function's schema modules built 130–280 of them as they loaded:
 * importing the connections schemas alone took about half the CPU of the whole baseline bundle), yet a
 * request needs only its own route's. Route definitions build theirs in getters (`defineRoute`); the
 * schemas they share are built through this.
 *
 * A build that throws is not kept: the next read builds again (and throws again, as a bad schema would).
 */
export { onFirstUse } from './on-first-use.js';

/** The output type of a schema built on first use: `z.OutputOf<typeof TenantId>`. */
export type OutputOf<S extends () => core.$ZodType> = output<ReturnType<S>>;
