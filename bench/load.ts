import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { linkIn, takeMail } from '../infra/local/inbox-reader.js';
import { SIGN_IN_LIMITS } from '../shared/domain/sign-in-limits.js';
import { login } from '../shared/schemas/auth.js';
import { jsonCall, type Reply } from './sections/local-system.js';

/**
 * Mixed traffic on loopback, bounded in count, with invariants checked afterwards (DESIGN §1.4):
 * - many users in several tenants sign in (and fail to), vend storage credentials, have their roles changed,
 *   are invited, mint and revoke API keys, rename their tenant and read and verify its audit trail, from
 *   CONCURRENCY clients at once;
 * - then bursts at the limits, all at once: one more than three times the per-IP sign-in limit from one
 *   address, and three times the per-account-and-network failure budget from one network;
 * - afterwards: no 5xx at all (429 is the only throttling the API declares); each burst got exactly its
 *   limit through; every tenant's audit chain verifies, and holds exactly the events the run's successful
 *   changes caused (one each, none for a read or a refusal).
 * Used by `test/integration/load.test.ts` (small) and `npm run bench` (requests per second, p50/p99 per
 * route).
 */
export interface LoadOptions {
  apiUrl: string;
  inboxApiUrl: string;
  tenants?: number;
  requests?: number;
  concurrency?: number;
  /**
   * Chains a tenant's pending audit events, where no sequencer runs beside the API (the tests' in-process
   * API); `npm run local`'s system runs its own.
   */
  settle?: (tenantId: string) => Promise<void>;
}

export interface RouteTiming {
  route: string;
  count: number;
  p50Ms: number;
  p99Ms: number;
  statuses: Record<number, number>;
}

export interface LoadReport {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  routes: RouteTiming[];
  /** Every broken invariant, in words; empty when the run held. */
  violations: string[];
}

/** The tenant-log event a successful answer of each mixed route writes (reads write none). */
const EVENT_OF: Record<string, string | undefined> = {
  'vend credentials': 'storage-credentials.vended',
  'change a role': 'member.role-changed',
  invite: 'member.invited',
  'create an API key': 'api-key.created',
  'revoke an API key': 'api-key.revoked',
  'rename the tenant': 'tenant.updated',
};

let addressCounter = 0;
/**
 * A loopback address of its own in 127.4.0.0/16, none twice in a run (per-IP and per-network limits are
 * the bursts' business); hosts .1 to .254 of each /24.
 */
function freshAddress(): string {
  addressCounter = (addressCounter + 1) % (254 * 256);
  return `127.4.${Math.floor(addressCounter / 254)}.${(addressCounter % 254) + 1}`;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { apiUrl, inboxApiUrl } = options;
  const tenantCount = options.tenants ?? 3;
  const total = options.requests ?? 600;
  const concurrency = options.concurrency ?? 8;
  const violations: string[] = [];

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    localAddress = freshAddress(),
  ): Promise<Reply> => {
    return jsonCall({ apiUrl, method, path, body, token, localAddress });
  };
  const expectStatus = (reply: Reply, status: number, what: string) => {
    if (reply.status !== status)
      throw new Error(`load set-up: ${what} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  };

  // Prepare (untimed): tenants, each with an owner, an editor and a member whose role the run changes.
  const run = randomBytes(4).toString('hex');
  let userCount = 0;
  const signUp = async (): Promise<LoadUser> => {
    const email = `load-${run}-${++userCount}@example.test`;
    const password = `load-${randomBytes(12).toString('base64url')}`;
    expectStatus(await call('POST', '/v1/auth/register', { email, password, name: 'Load' }), 202, 'register');
    const { token } = linkIn(await takeMail(inboxApiUrl, email, /^Verify/), '/verify-email');
    expectStatus(await call('POST', '/v1/auth/verify-email', { token }), 200, 'verify-email');
    const login = expectStatus(await call('POST', '/v1/auth/login', { email, password }), 200, 'login');
    return { email, password, token: String(login.token), userId: String(login.user.userId) };
  };
  interface LoadUser {
    email: string;
    password: string;
    token: string;
    userId: string;
  }
  interface Tenant {
    t: string;
    owner: LoadUser;
    editor: LoadUser;
    changing: LoadUser;
    locationId: string;
    keys: string[];
    /** Role changes sent so far: each flips the member between viewer and reviewer, so each is a change. */
    roleChanges: number;
  }
  const tenants: Tenant[] = [];
  for (let n = 0; n < tenantCount; n++) {
    const owner = await signUp();
    const created = expectStatus(
      await call('POST', '/v1/tenants', { name: `Load ${n}` }, owner.token),
      201,
      'tenant',
    );
    const t = `/v1/tenants/${created.tenantId}`;
    const members = { editor: await signUp(), changing: await signUp() };
    for (const [role, user] of [
      ['editor', members.editor],
      ['viewer', members.changing],
    ] as const) {
      const invitation = expectStatus(
        await call('POST', `${t}/members`, { email: user.email, role }, owner.token),
        201,
        'invite',
      );
      expectStatus(
        await call('POST', `/v1/me/invitations/${invitation.invitationId}/accept`, undefined, user.token),
        201,
        'accept',
      );
    }
    const location = expectStatus(
      await call('POST', `${t}/storage-locations`, { managed: true }, owner.token),
      201,
      'storage location',
    );
    tenants.push({
      t,
      owner,
      ...members,
      locationId: String(location.locationId),
      keys: [] as string[],
      roleChanges: 0,
    });
  }
  const counted = async (tenant: Tenant) => {
    await options.settle?.(tenant.t.split('/').at(-1)!);
    return actionCounts(call, tenant.t, tenant.owner.token);
  };
  const eventsBefore = await Promise.all(tenants.map(counted));

  // Act: the mixed traffic.
  const mix: { route: string; send: (tenant: Tenant, i: number) => Promise<Reply> }[] = [
    {
      route: 'sign in',
      send: (x) => call('POST', '/v1/auth/login', { email: x.editor.email, password: x.editor.password }),
    },
    {
      route: 'sign in with a wrong password',
      send: (x) =>
        call('POST', '/v1/auth/login', { email: x.changing.email, password: 'not-the-password-at-all' }),
    },
    {
      route: 'vend credentials',
      send: (x) =>
        call(
          'POST',
          `${x.t}/storage-credentials`,
          { location: x.locationId, access: 'read' },
          x.editor.token,
        ),
    },
    {
      route: 'change a role',
      send: (x) =>
        call(
          'PATCH',
          `${x.t}/members/${x.changing.userId}`,
          { role: x.roleChanges++ % 2 ? 'viewer' : 'reviewer' },
          x.owner.token,
        ),
    },
    {
      route: 'invite',
      send: (x, i) =>
        call(
          'POST',
          `${x.t}/members`,
          { email: `invitee-${run}-${i}@example.test`, role: 'viewer' },
          x.owner.token,
        ),
    },
    {
      route: 'create an API key',
      send: async (x, i) => {
        const reply = await call(
          'POST',
          `${x.t}/api-keys`,
          { name: `load ${i}`, scopes: ['members:read'] },
          x.owner.token,
        );
        if (reply.status === 201) x.keys.push(String(reply.body.keyId));
        return reply;
      },
    },
    {
      route: 'revoke an API key',
      send: (x) => {
        const keyId = x.keys.shift();
        return keyId
          ? call('DELETE', `${x.t}/api-keys/${keyId}`, undefined, x.owner.token)
          : call('GET', `${x.t}/api-keys`, undefined, x.owner.token);
      },
    },
    { route: 'rename the tenant', send: (x, i) => call('PATCH', x.t, { name: `Load ${i}` }, x.owner.token) },
    {
      route: 'read the audit trail',
      send: (x) => call('GET', `${x.t}/audit-events?limit=20`, undefined, x.owner.token),
    },
    { route: 'list members', send: (x) => call('GET', `${x.t}/members`, undefined, x.editor.token) },
  ];
  const timings = new Map<string, { ms: number[]; statuses: Record<number, number> }>();
  const caused = tenants.map(() => new Map<string, number>());
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const op = mix[i % mix.length]!;
        const tenantIndex = Math.floor(i / mix.length) % tenants.length;
        const begun = performance.now();
        const reply = await op.send(tenants[tenantIndex]!, i);
        // A revocation with no key to revoke lists the keys instead: a read.
        const route = op.route === 'revoke an API key' && reply.status === 200 ? 'list API keys' : op.route;
        const timing = timings.get(route) ?? { ms: [], statuses: {} };
        timing.ms.push(performance.now() - begun);
        timing.statuses[reply.status] = (timing.statuses[reply.status] ?? 0) + 1;
        timings.set(route, timing);
        const event = EVENT_OF[route];
        if (event && reply.status < 300)
          caused[tenantIndex]!.set(event, (caused[tenantIndex]!.get(event) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;

  // Act: the bursts, each all at once.
  const loginIpLimit = login.rateLimits!.find((rule) => (rule.per ?? 'ip') === 'ip')!.limit;
  const oneAddress = freshAddress();
  const perIp = await Promise.all(
    Array.from({ length: 3 * loginIpLimit + 1 }, () =>
      call(
        'POST',
        '/v1/auth/login',
        { email: tenants[0]!.editor.email, password: tenants[0]!.editor.password },
        undefined,
        oneAddress,
      ),
    ),
  );
  const through = perIp.filter((r) => r.status === 200).length;
  const unexpected = perIp.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.status);
  if (unexpected.length)
    violations.push(`per-IP sign-in burst: answers ${unexpected.join(', ')} besides 200 and 429`);
  if (through !== loginIpLimit)
    violations.push(`per-IP sign-in limit: ${through} of ${perIp.length} got through, not ${loginIpLimit}`);
  const budget = SIGN_IN_LIMITS.networkFailures.limit;
  const network = `127.5.${addressCounter & 255}`;
  const victim = tenants.at(-1)!.editor;
  const guesses = await Promise.all(
    Array.from({ length: 3 * budget }, (_, k) =>
      call(
        'POST',
        '/v1/auth/login',
        { email: victim.email, password: `guess-${k}-wrong-password` },
        undefined,
        `${network}.${k + 1}`,
      ),
    ),
  );
  const checked = guesses.filter((r) => r.status === 401).length;
  const refused = guesses.filter((r) => r.status === 429).length;
  if (checked !== budget || refused !== guesses.length - budget)
    violations.push(
      `per-account-and-network failure budget: ${checked} checked, ${refused} refused of ${guesses.length}, not ${budget} checked`,
    );

  // Assess
  for (const [route, timing] of timings) {
    const fives = Object.entries(timing.statuses).filter(([s]) => Number(s) >= 500);
    if (fives.length) violations.push(`${route}: ${JSON.stringify(Object.fromEntries(fives))} 5xx`);
  }
  for (const [n, tenant] of tenants.entries()) {
    const after = await counted(tenant);
    const verified = await call('GET', `${tenant.t}/audit-events/verify`, undefined, tenant.owner.token);
    if (verified.status !== 200 || verified.body.ok !== true || verified.body.complete !== true)
      violations.push(`tenant ${n}: the audit chain does not verify: ${JSON.stringify(verified.body)}`);
    const grown = new Map<string, number>();
    for (const [action, count] of after) {
      const added = count - (eventsBefore[n]!.get(action) ?? 0);
      if (added) grown.set(action, added);
    }
    // Reading the trail and verifying it are not audited; everything else the run did to the tenant is.
    const expected = [...caused[n]!].sort();
    const found = [...grown].sort();
    if (JSON.stringify(found) !== JSON.stringify(expected))
      violations.push(
        `tenant ${n}: the audit log gained ${JSON.stringify(found)}, the run caused ${JSON.stringify(expected)}`,
      );
  }

  const routes = [...timings].map(([route, { ms, statuses }]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { route, count: ms.length, p50Ms: at(0.5), p99Ms: at(0.99), statuses };
  });
  return { requests: total, seconds, requestsPerSecond: total / seconds, routes, violations };
}

/**
 * How many events of each action the tenant's log holds, once the sequencer has chained every one (the
 * answer says how many wait: `pending`).
 */
async function actionCounts(
  call: (method: string, path: string, body?: unknown, token?: string) => Promise<Reply>,
  t: string,
  token: string,
): Promise<Map<string, number>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = new Map<string, number>();
    let pending = 0;
    let cursor: string | undefined;
    do {
      const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call('GET', `${t}/audit-events?${query}`, undefined, token);
      if (page.status !== 200) throw new Error(`load: reading the audit trail answered ${page.status}`);
      for (const event of page.body.items) counts.set(event.action, (counts.get(event.action) ?? 0) + 1);
      pending = Math.max(pending, page.body.pending ?? 0);
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    if (pending === 0) return counts;
    if (Date.now() > deadline) throw new Error(`load: ${pending} audit events still wait to be chained`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
