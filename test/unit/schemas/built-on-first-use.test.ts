import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BENCH_ENV } from '../../../bench/env.js';

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
/**
 * Every module that can build schemas: each module of shared/ that imports zod (shared/domain/zod.ts), and
 * the route list, which imports every route module.
 */
const SCHEMA_MODULES = [
  ...readdirSync(path.join(ROOT, 'shared'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && f !== path.join('domain', 'zod.ts'))
    .filter((f) => /from '[./]*(domain\/)?zod\.js'/.test(readFileSync(path.join(ROOT, 'shared', f), 'utf8')))
    .map((f) => `shared/${f.split(path.sep).join('/').replace(/\.ts$/, '.js')}`),
  'shared/schemas/routes.js',
].sort();

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
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each(SCHEMA_MODULES)('%s builds no schema while it loads', async (module) => {
    // Act
    const calls = await buildsWhileLoading(module);

    // Assess
    expect(calls).toBe(0);
  });

  it.each(
    readdirSync(path.join(ROOT, 'functions'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('handler.ts'))
      .map((f) => `functions/${f.split(path.sep).join('/').replace(/\.ts$/, '.js')}`)
      .sort(),
  )('%s builds no schema while it loads (a cold start)', async (module) => {
    // Prepare: the settings a handler reads at load (fake: nothing is called)
    for (const [name, value] of Object.entries(BENCH_ENV)) vi.stubEnv(name, value);

    // Act
    const calls = await buildsWhileLoading(module);

    // Assess
    expect(calls).toBe(0);
  });

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
    expect(atLoad).toBe(0);
    expect(built).toBeGreaterThan(atLoad + 5);
    expect(again).toBe(query);
    expect(counted.calls).toBe(built);
  });

  it('checks the modules that build schemas', () => {
    // Assess: the list was found (a pattern that matched nothing would check nothing)
    expect(SCHEMA_MODULES).toEqual(
      expect.arrayContaining([
        'shared/domain/query-ast.js',
        'shared/domain/query-rules.js',
        'shared/http/api.js',
        'shared/schemas/common.js',
        'shared/schemas/routes.js',
        'shared/schemas/storage.js',
      ]),
    );
    expect(SCHEMA_MODULES.length).toBeGreaterThan(15);
  });
});
