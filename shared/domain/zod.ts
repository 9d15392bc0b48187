/**
 * zod, as every schema of the repository imports it: zod/mini, whose schemas are plain data checked by
 * functions (`z.optional(z.string().check(z.maxLength(64)))`) rather than objects carrying every method, so
 * a bundle holds only the checks it uses (31–35 KiB of a function's init where classic took 93–98), with zod's
 * English messages, which the API's problem details carry (`errors[].message`). zod/mini has no messages of
 * its own until a locale is configured; importing this module configures it.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';
