import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * A function's cold start builds no zod schema (shared/domain/zod.ts `onFirstUse`, shared/http/route.ts
 * getters): loading any schema module, or the request pipeline, calls none of zod's builders. Each builder
 * of zod (`z.string`, `z.object`, `z.regex`, …) is counted through a stand-in of shared/domain/zod.ts, the
 * only module that imports zod (test/unit/architecture.test.ts).
 */
const counted = vi.hoisted(() => ({ calls: 0 }));
vi.mock('../../../shared/domain/zod.js', async (importOriginal) => {
  const actual = await importOriginal<Record<string, unknown>>();
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(actual)) {
    // The builders: functions named in lower case (classes and `core` pass through), not the deferral
    // itself nor the locale setting.
    const builder =
      typeof value === 'function' && /^[a-z_]/.test(name) && !['onFirstUse', 'config'].includes(name);
    wrapped[name] = builder
      ? (...args: unknown[]) => {
          counted.calls++;
          return (value as (...a: unknown[]) => unknown)(...args);
        }
      : value;
  }
  return wrapped;
});

const ROOT = path.resolve(__dirname, '../../..');
/** Every module that defines schemas: the route modules, and the domain modules holding request schemas. */
const SCHEMA_MODULES = [
  ...readdirSync(path.join(ROOT, 'shared', 'schemas'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `shared/schemas/${f.replace(/\.ts$/, '.js')}`),
  'shared/http/api.js',
].sort();

/**
 * Modules that still build schemas as they load (or import one that does), not checked until they are
 * converted to `z.onFirstUse` and route getters; the list only shrinks.
 */
const STILL_BUILT_AT_LOAD = new Set(['shared/schemas/routes.js']);

async function buildsWhileLoading(module: string): Promise<number> {
  vi.resetModules();
  counted.calls = 0;
  await import(path.join(ROOT, module));
  return counted.calls;
}

describe('schemas are built on first use, not while their modules load', () => {
  beforeEach(() => {
    counted.calls = 0;
  });

  it.each(SCHEMA_MODULES.filter((m) => !STILL_BUILT_AT_LOAD.has(m)))(
    '%s builds no schema while it loads',
    async (module) => {
      // Act
      const calls = await buildsWhileLoading(module);

      // Assess
      expect(calls).toBe(0);
    },
  );

  it('counts the builds of a module that builds schemas while it loads (live control)', async () => {
    // Prepare: a module of the test's own, loading as a schema module did before onFirstUse
    vi.resetModules();
    counted.calls = 0;
    const z = await import('../../../shared/domain/zod.js');

    // Act
    const atLoad = z.strictObject({ name: z.string().check(z.maxLength(3)) });
    const deferred = z.onFirstUse(() => z.strictObject({ name: z.string() }));
    const beforeRead = counted.calls;
    const first = deferred();
    const afterRead = counted.calls;

    // Assess: the builders are counted; the deferred schema is built on its first read only, then kept
    expect(atLoad).toBeDefined();
    expect(beforeRead).toBe(3);
    expect(afterRead).toBe(5);
    expect(deferred()).toBe(first);
    expect(counted.calls).toBe(5);
  });

  it('counts the builds of a route’s schemas when the route is first read (live control)', async () => {
    // Prepare
    vi.resetModules();
    const { listAuditEvents } = await import('../../../shared/schemas/audit.js');
    const atLoad = counted.calls;

    // Act: validation and the OpenAPI document read a route's schemas
    const query = listAuditEvents.query;
    const built = counted.calls;
    const again = listAuditEvents.query;

    // Assess: built on the first read only, and the same schema from then on
    if (!STILL_BUILT_AT_LOAD.has('shared/schemas/audit.js')) expect(atLoad).toBe(0);
    expect(built).toBeGreaterThan(atLoad + 5);
    expect(again).toBe(query);
    expect(counted.calls).toBe(built);
  });

  it('lists only modules that exist', () => {
    // Assess: an entry for a removed or renamed module would silently check nothing
    for (const module of STILL_BUILT_AT_LOAD) expect(SCHEMA_MODULES).toContain(module);
  });
});
