import { describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.js';
import { inboxApi } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';
import { provisionedSequencer } from './audit/support.js';

/**
 * Mixed traffic with invariants (bench/load.ts), small enough for every run: `npm run bench` drives more of
 * it and reports requests per second and p50/p99 per route.
 */
const api = useTestApi();

describe('mixed traffic on loopback', () => {
  it('holds every limit exactly, leaves every audit chain whole with exactly the events it caused, and never answers 5xx', async () => {
    // Act
    const report = await runLoad({
      apiUrl: api.url,
      inboxApiUrl: inboxApi(),
      tenants: 3,
      requests: 400,
      concurrency: 8,
      settle: async (tenantId) => {
        await provisionedSequencer().sequence(tenantId);
      },
    });
    // Assess
    expect(report.violations).toEqual([]);
    expect(report.routes.reduce((n, r) => n + r.count, 0)).toBe(400);
    const succeeded = (route: string) =>
      Object.entries(report.routes.find((r) => r.route === route)?.statuses ?? {})
        .filter(([status]) => Number(status) < 300)
        .reduce((n, [, count]) => n + count, 0);
    // The mix did its work: most changes went through (not a run of refusals that proves nothing).
    for (const route of [
      'vend credentials',
      'change a role',
      'invite',
      'create an API key',
      'rename the tenant',
    ])
      expect(succeeded(route), route).toBeGreaterThan(30);
    expect(succeeded('revoke an API key')).toBeGreaterThan(20);
  }, 240_000);
});
