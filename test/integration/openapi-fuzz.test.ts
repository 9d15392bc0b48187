import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboxMail } from '../../infra/local/inbox-reader.js';
import { lowestRoleFor, ROLES, type Role, roleRank } from '../../shared/domain/permissions.js';
import * as z from '../../shared/domain/zod.js';
import { MAX_BODY_BYTES } from '../../shared/http/api.js';
import { AREAS, type Area, type RouteDef } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { type AwsState, awsState, type StateChange, stateChanges } from '../support/aws-state.js';
import { inboxApi, type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { type TestResponse, useTestApi } from '../support/local-api.js';
import {
  acceptedValue,
  fieldsOf,
  type Json,
  type JsonSchema,
  REMOVE,
  refusedValuesOf,
  resolve,
  withField,
} from '../support/schema-arbitraries.js';

/**
 * Fuzzing every route from the OpenAPI document the API serves (DESIGN §1.4: nothing is lost on bad input).
 * Requests are generated with fast-check from the document itself, so a route added later is fuzzed without
 * editing this file:
 * - refused input (a field of another type, one past its length or range, a choice not offered, a lone
 *   surrogate, NUL, a bidi override, a zero-width space, a required field missing, a field not listed,
 *   malformed or oversized or missing bodies, another content type, odd path parameters, odd query
 *   parameters), for every route and every caller: the answer is the exact refusal (400 naming the field,
 *   or 403 to a role below the route's, or 404, 413, 415), and nothing changed but the records of refusals;
 * - valid input, for every route and caller: never a 5xx, every refusal a problem naming what it refuses,
 *   every success the status and shape the document gives.
 *
 * `npm test` runs a fixed seed and a bounded count; `npm run fuzz` (FUZZ=long) a longer run, and FUZZ_SEED
 * replays a run.
 */
const LONG = process.env.FUZZ === 'long';
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
/**
 * The lowest role a route allows (or its one caller) sends each of the route's refusals this many times (on other valid
 * requests each time); every other caller allowed sends a sample of them, and every caller below the route's
 * role another, each seeded by route and caller.
 */
const EVERY_REFUSAL_TIMES = LONG ? 10 : 1;
const REFUSED_RUNS_OTHERS = LONG ? 40 : 3;
const REFUSED_RUNS_BELOW = LONG ? 30 : 2;
/** Routes a valid request must have succeeded on (the seeded run reaches 29 of 73). */
const MIN_ROUTES_SUCCEEDING = 20;
/** Valid inputs per (route, caller). */
const VALID_RUNS = LONG ? 40 : 3;

const api = useTestApi();
let document: JsonSchema;
let tenant: TenantWithRoles;

beforeAll(async () => {
  const served = await api.request('GET', '/openapi.json');
  expect(served.status).toBe(200);
  document = served.body;
  tenant = await tenantWithEveryRole(api, 'Fuzz');
});

/** Who calls a route: each role for tenant routes, the owner for a signed-in user's, nobody for public ones. */
type Caller = Role | 'anonymous';
function callersOf(route: RouteDef): Caller[] {
  if (route.auth.kind === 'tenant') return [...ROLES];
  return route.auth.kind === 'none' ? ['anonymous'] : ['owner'];
}
function isBelow(route: RouteDef, caller: Caller): boolean {
  return (
    route.auth.kind === 'tenant' &&
    caller !== 'anonymous' &&
    roleRank(caller) < roleRank(lowestRoleFor(route.auth.permission))
  );
}

interface Operation {
  route: RouteDef;
  pathParams: { name: string; schema: JsonSchema }[];
  queryParams: { name: string; schema: JsonSchema; required: boolean }[];
  body?: JsonSchema;
}

function operationOf(route: RouteDef): Operation {
  const op = document.paths[route.path]?.[route.method.toLowerCase()];
  expect(op, `${route.method} ${route.path} is in the served document`).toBeDefined();
  const parameters: any[] = op.parameters ?? [];
  return {
    route,
    pathParams: parameters.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: p.schema })),
    queryParams: parameters
      .filter((p) => p.in === 'query')
      .map((p) => ({ name: p.name, schema: p.schema, required: p.required === true })),
    body: op.requestBody?.content?.['application/json']?.schema,
  };
}

/** One request, as sent: the concrete path, query, and body (JSON value, or raw text with a content type). */
interface FuzzRequest {
  path: string;
  query: Record<string, string>;
  body?: Json;
  raw?: string;
  contentType?: string;
}

function pathOf(op: Operation, params: Record<string, string>): string {
  return op.route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
}

/** Valid path parameters: the fuzzed tenant, and for other ids any the document accepts. */
function paramsArbitrary(op: Operation): fc.Arbitrary<Record<string, string>> {
  return fc.record(
    Object.fromEntries(
      op.pathParams.map((p) => [
        p.name,
        p.name === 'tenantId'
          ? fc.constant(tenant.tenantId)
          : (acceptedValue(p.schema, document) as fc.Arbitrary<string>),
      ]),
    ),
  );
}

function queryArbitrary(op: Operation): fc.Arbitrary<Record<string, string>> {
  return fc
    .record(Object.fromEntries(op.queryParams.map((p) => [p.name, acceptedValue(p.schema, document)])), {
      requiredKeys: op.queryParams.filter((p) => p.required).map((p) => p.name),
    })
    .map((query) => Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])));
}

function validRequest(op: Operation, complete = false): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      params: paramsArbitrary(op),
      query: queryArbitrary(op),
      body: op.body ? acceptedValue(op.body, document, { complete }) : fc.constant(undefined),
    })
    .map(({ params, query, body }) => ({ path: pathOf(op, params), query, body }));
}

/** What a refused request must be answered with, by a caller the route allows. */
interface Refusal {
  /** `body.name`, `query.limit`, `params.keyId`, `body` … */
  field: string;
  label: string;
  change: (request: FuzzRequest) => FuzzRequest;
  /** 400 naming `field` unless given. */
  status?: 413 | 415;
  /** A path that no longer matches the route may also be answered 404, or 405 where another path matches. */
  unrouted?: boolean;
  /** The refusal comes before authorization (so every caller gets it). */
  beforeAuthorization?: boolean;
}

/**
 * Path parameter values no id takes. (A dot-dot segment is not among them: URLs resolve it, so it names the
 * parent resource, another route.)
 */
const ODD_PATH_VALUES = [
  { label: 'an encoded NUL', value: '\u0000' },
  { label: 'a bidi override', value: 'x\u202Ey' },
  { label: 'a 300-character value', value: 'A'.repeat(300) },
  { label: 'an encoded slash', value: 'a/b' },
  { label: 'a space', value: ' ' },
];

/** Every way to refuse input to the route the document describes (see the file's head). */
function refusalsOf(op: Operation): Refusal[] {
  const refusals: Refusal[] = [];
  for (const param of op.pathParams) {
    for (const odd of ODD_PATH_VALUES)
      refusals.push({
        field: `params.${param.name}`,
        label: odd.label,
        change: (r) => ({
          ...r,
          path: replaceSegment(op, r.path, param.name, encodeURIComponent(odd.value)),
        }),
        unrouted: true,
        beforeAuthorization: true,
      });
    refusals.push({
      field: `params.${param.name}`,
      label: 'a malformed percent-encoding',
      change: (r) => ({ ...r, path: replaceSegment(op, r.path, param.name, '%E0%A4%A') }),
      unrouted: true,
      beforeAuthorization: true,
    });
  }
  for (const param of op.queryParams) {
    for (const refused of refusedValuesOf(resolve(param.schema, document))) {
      if (refused.value === null || typeof refused.value === 'object') continue;
      // A query string carries text: only values whose text the schema refuses count. A lone surrogate
      // cannot be carried at all (UTF-8 percent-encoding sends U+FFFD in its place).
      if (typeof refused.value !== 'string' && resolve(param.schema, document).type === 'string') continue;
      if (refused.label === 'a lone surrogate') continue;
      refusals.push({
        field: `query.${param.name}`,
        label: refused.label,
        change: (r) => ({ ...r, query: { ...r.query, [param.name]: String(refused.value) } }),
      });
    }
  }
  refusals.push({
    field: 'query.unlisted',
    label: 'a query parameter not listed',
    change: (r) => ({ ...r, query: { ...r.query, unlisted: '1' } }),
  });
  if (op.body) {
    for (const field of fieldsOf(op.body, document)) {
      const name = ['body', ...field.path].join('.');
      for (const refused of refusedValuesOf(field.schema))
        refusals.push({
          field: name,
          label: refused.label,
          change: (r) => ({ ...r, body: withField(r.body ?? {}, field.path, refused.value) }),
        });
      if (field.required && typeof field.path.at(-1) === 'string')
        refusals.push({
          field: name,
          label: 'a required field missing',
          change: (r) => ({ ...r, body: withField(r.body ?? {}, field.path, REMOVE) }),
        });
      if (field.strictParent && typeof field.path.at(-1) === 'string') {
        const unlisted = [...field.path.slice(0, -1), 'unlisted'];
        refusals.push({
          field: ['body', ...unlisted].join('.'),
          label: 'a field not listed',
          change: (r) => ({ ...r, body: withField(r.body ?? {}, unlisted, 'x') }),
        });
      }
    }
    refusals.push(
      { field: 'body', label: 'no body', change: ({ body: _, ...r }) => r },
      { field: 'body', label: 'malformed JSON', change: (r) => ({ ...r, raw: '{"unfinished": ' }) },
      { field: 'body', label: 'a list for a body', change: (r) => ({ ...r, body: [r.body ?? null] }) },
      { field: 'body', label: 'a huge number literal', change: (r) => ({ ...r, raw: '1e999' }) },
      {
        field: 'body',
        label: 'another content type',
        change: (r) => ({ ...r, raw: JSON.stringify(r.body), contentType: 'text/plain' }),
        status: 415,
      },
    );
  } else {
    refusals.push({
      field: 'body',
      label: 'a body where none is taken',
      change: (r) => ({ ...r, body: {} }),
    });
  }
  refusals.push({
    field: 'body',
    label: 'a body over the size limit',
    change: (r) => ({ ...r, raw: JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) }) }),
    status: 413,
    beforeAuthorization: true,
  });
  return refusals;
}

function replaceSegment(op: Operation, path: string, name: string, value: string): string {
  const template = op.route.path.split('/');
  const actual = path.split('/');
  return template.map((segment, i) => (segment === `{${name}}` ? value : actual[i])).join('/');
}

const tokenOf = (caller: Caller) => (caller === 'anonymous' ? undefined : tenant.users[caller].token);

/** A new session of the owner's, for requests that may end the one they come with. */
async function freshOwnerSession(): Promise<string> {
  const { email, password } = tenant.users.owner;
  const login = await api.request('POST', '/v1/auth/login', { body: { email, password } });
  expect(login.status, login.text).toBe(200);
  return login.body.token;
}

async function send(
  op: Operation,
  caller: Caller,
  request: FuzzRequest,
  token = tokenOf(caller),
): Promise<TestResponse> {
  const query = new URLSearchParams(request.query).toString();
  return api.request(op.route.method, `${request.path}${query ? `?${query}` : ''}`, {
    token,
    ...(request.raw !== undefined
      ? { rawBody: request.raw, headers: { 'content-type': request.contentType ?? 'application/json' } }
      : request.body !== undefined
        ? { body: request.body }
        : {}),
  });
}

/** Every answer: a problem document with the request's id for each 4xx, never a 5xx. */
function assertWellFormed(res: TestResponse, context: string): void {
  expect(res.status, `${context}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), context).toMatch(/^application\/problem\+json/);
    expect(res.body.status, context).toBe(res.status);
    expect(res.body.requestId, context).toBe(res.headers.get('x-request-id'));
  }
  if (res.status === 400) {
    // Every validation problem names what it refuses, below the request part it is in.
    expect(res.body.errors?.length, context).toBeGreaterThan(0);
    for (const error of res.body.errors) expect(error.path, context).toMatch(/^(body|query|params)(\.|$)/);
  }
}

/** The route declares a per-user or per-tenant limit: its budget outlasts no fuzz run (per-IP ones do). */
const limited = (route: RouteDef) =>
  (route.rateLimits ?? []).some((r) => r.per === 'user' || r.per === 'tenant');

const names = (field: string, errors: { path: string }[] = []) =>
  errors.some((e) => e.path === field || e.path.startsWith(`${field}.`));

/** The operations of one area, in the route list's order. */
const operationsIn = (area: Area) => ROUTES.filter((r) => r.area === area).map(operationOf);
const requestsSent = { refused: 0, valid: 0 };
/** Answers 429 because a per-user or per-tenant budget was spent: they check nothing else. */
const throttled = { refused: 0, valid: 0 };

/** A seed of its own for each route and caller (and phase), derived from the run's seed. */
function seedFor(...parts: string[]): number {
  let hash = SEED | 0;
  for (const char of parts.join('|')) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}
/** How the valid requests were answered, by status. */
const validAnswers = new Map<number, number>();

/** Every mail in the run's inbox (MailDev's REST API). */
async function inbox(): Promise<InboxMail[]> {
  const res = await fetch(`${inboxApi()}/email`);
  expect(res.status, 'the mail inbox answers').toBe(200);
  return (await res.json()) as InboxMail[];
}

describe('refused input, generated from the served OpenAPI document', () => {
  let before: AwsState;
  let mailsBefore: Set<string>;
  beforeAll(async () => {
    before = await awsState();
    mailsBefore = new Set((await inbox()).map((m) => m.id));
  });

  it.each(AREAS)('is answered with the exact refusal on every %s route, for every caller', async (area) => {
    for (const op of operationsIn(area)) {
      const refusals = refusalsOf(op);
      const callers = callersOf(op.route);
      // The lowest role the route allows (or its one caller) sends every refusal; each other caller a sample.
      const primary = callers.find((caller) => !isBelow(op.route, caller));
      for (const caller of callers) {
        const below = isBelow(op.route, caller);
        const seed = seedFor(op.route.id, caller);
        const cases =
          caller === primary
            ? refusals.flatMap((refusal) => Array<Refusal>(EVERY_REFUSAL_TIMES).fill(refusal))
            : fc.sample(fc.constantFrom(...refusals), {
                seed,
                numRuns: below ? REFUSED_RUNS_BELOW : REFUSED_RUNS_OTHERS,
              });
        const bases = fc.sample(validRequest(op, true), { seed, numRuns: cases.length });
        for (const [i, refusal] of cases.entries()) {
          // Act
          const res = await send(op, caller, refusal.change(bases[i]!));
          requestsSent.refused++;
          // Assess
          const context = `${caller} ${op.route.method} ${op.route.path}, ${refusal.field}: ${refusal.label} (seed ${seed})`;
          assertWellFormed(res, context);
          if (res.status === 429 && limited(op.route)) {
            // Rate limits count before the body is read, so malformed requests spend a budget too.
            expect(res.headers.get('retry-after'), context).toMatch(/^\d+$/);
            throttled.refused++;
          } else if (below && !refusal.beforeAuthorization) {
            expect(res.status, context).toBe(403);
          } else if (refusal.status) {
            expect(res.status, context).toBe(refusal.status);
          } else if (refusal.unrouted && [404, 405].includes(res.status)) {
            expect(res.body.type, context).toMatch(/not-found$|method-not-allowed$/);
          } else {
            expect(res.status, `${context}: ${res.text.slice(0, 300)}`).toBe(400);
            expect(names(refusal.field, res.body.errors), `${context} names the field: ${res.text}`).toBe(
              true,
            );
          }
        }
      }
    }
  });

  it('changes nothing but the records of the refusals, and sends no mail', async () => {
    // Act
    const changes = stateChanges(before, await awsState());
    // Assess
    const unexplained = changes.filter((c) => !RECORDS_OF_REFUSAL.some((rule) => rule.matches(c)));
    expect(unexplained.map((c) => `${c.key}: ${JSON.stringify(c.after ?? 'removed').slice(0, 200)}`)).toEqual(
      [],
    );
    expect(changes.length).toBeGreaterThan(0);
    // No mail either: a refused invitation, registration or reset request sends none
    const sent = (await inbox()).filter((m) => !mailsBefore.has(m.id));
    expect(sent.map((m) => `${m.subject} → ${m.to.map((r) => r.address).join(', ')}`)).toEqual([]);
  });
});

const isAdded = (c: StateChange) => c.before === undefined && c.after !== undefined;
/** What a refused request may write: each reason is the design's. */
const RECORDS_OF_REFUSAL: { why: string; matches: (c: StateChange) => boolean }[] = [
  {
    why: 'a 403 to a member writes `auth.action.refused` to the tenant log (DESIGN §1.5, every refusal leaves a trace)',
    matches: (c) => isAdded(c) && /-audit\|/.test(c.key) && c.after?.action === 'auth.action.refused',
  },
  {
    why: 'rate limits count requests before their body is read (shared/http/api.ts callerRateLimits), so malformed ones spend a budget too',
    matches: (c) => /\|RATE#/.test(c.key),
  },
];

describe('valid input, generated from the served OpenAPI document', () => {
  // A tenant and users of its own: the refusals above spent their per-user and per-tenant budgets.
  beforeAll(async () => {
    tenant = await tenantWithEveryRole(api, 'Fuzz valid');
  });
  /** The routes that answered a valid request with a success at least once. */
  const succeeded = new Set<string>();

  // The tenant area goes last, and in it the routes that change the tenant's rules (which could make every
  // later request need MFA); sign-out ends a session of its own.
  const areas = [...AREAS.filter((a) => a !== 'tenants'), 'tenants' as const];

  it.each(areas)(
    'is never answered with a 5xx on a %s route, every refusal names what it refuses, every success is as documented',
    async (area) => {
      const last = (r: RouteDef) => (r.path === '/v1/tenants/{tenantId}' && r.method !== 'GET' ? 1 : 0);
      for (const op of operationsIn(area).sort((a, b) => last(a.route) - last(b.route))) {
        for (const caller of callersOf(op.route)) {
          const below = isBelow(op.route, caller);
          const seed = seedFor(op.route.id, caller, 'valid');
          await fc.assert(
            fc.asyncProperty(validRequest(op), async (request) => {
              // Act
              const token = op.route.id === 'logout' ? await freshOwnerSession() : tokenOf(caller);
              const res = await send(op, caller, request, token);
              requestsSent.valid++;
              validAnswers.set(res.status, (validAnswers.get(res.status) ?? 0) + 1);
              if (res.status === 429) throttled.valid++;
              if (res.status < 300) succeeded.add(op.route.id);
              // Assess
              const context = `${caller} ${op.route.method} ${request.path} ${JSON.stringify(request.body)?.slice(0, 300)}`;
              assertWellFormed(res, context);
              if (below) expect(res.status, context).toBe(403);
              if (res.status < 300) {
                // Answers are what the document says they are.
                const documented = op.route.response;
                expect(res.status, context).toBe(documented.status);
                if (documented.schema && !documented.contentType) {
                  const parsed = z.safeParse(documented.schema, res.body);
                  expect(parsed.error?.issues ?? [], `${context}: ${res.text.slice(0, 300)}`).toEqual([]);
                }
              }
            }),
            { seed, numRuns: VALID_RUNS, endOnFailure: true },
          );
        }
      }
    },
  );

  it('got through to the work on most routes, and was seldom throttled', () => {
    // Assess: valid input that only ever met refusals (ids that exist nowhere, spent budgets) would prove
    // little; these floors are well below what a run reaches
    console.log(`openapi fuzz: valid requests succeeded on ${succeeded.size} routes`);
    expect(succeeded.size).toBeGreaterThanOrEqual(MIN_ROUTES_SUCCEEDING);
    expect(throttled.valid).toBeLessThan(requestsSent.valid / 10);
  });
});

afterAll(() => {
  console.log(
    `openapi fuzz: ${requestsSent.refused} refused and ${requestsSent.valid} valid requests over ${ROUTES.length} routes (seed ${SEED}${LONG ? ', long' : ''}); ${throttled.refused} refused and ${throttled.valid} valid ones met a spent budget (429); valid ones answered ${[
      ...validAnswers,
    ]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ')}`,
  );
});
