import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import type { Principal } from '../../../shared/domain/caller.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import * as z from '../../../shared/domain/zod.js';
import { ForbiddenError } from '../../../shared/errors.js';
import { createApiHandler, implement, requestIdOf } from '../../../shared/http/api.js';
import { type AuthContext, TenantRefusalError } from '../../../shared/http/auth-context.js';
import { type AccessRefusal, auditRefusalsTo, isAuditedRefusal } from '../../../shared/http/refusals.js';
import { defineRoute } from '../../../shared/http/route.js';
import { logger } from '../../../shared/observability.js';

const T1 = 't_01jx0000000000000000000001';
const U1 = 'u_01jx0000000000000000000001';
const principal: Principal = { kind: 'api-key', userId: U1, credentialId: 'k_1', mfaEnabled: false };
const scope = mintTenantScope({ tenantId: T1, userId: U1, plan: 'free' });

const params = z.strictObject({ tenantId: z.string(), thingId: z.string().check(z.regex(/^th_\d+$/)) });
const base = {
  area: 'public' as const,
  summary: 'test route',
  tags: [],
  params,
  response: { status: 200, description: 'ok' },
};
/** The authorizer refuses it (a missing permission). */
const change = defineRoute({
  ...base,
  id: 'changeThing',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/things/{thingId}',
  auth: { kind: 'tenant', permission: 'members:manage' },
});
/** A routine read the authorizer refuses. */
const read = defineRoute({
  ...change,
  id: 'readThing',
  method: 'GET',
  auth: { kind: 'tenant', permission: 'members:read' },
});
/** A read of the audit trail the authorizer refuses. */
const readAudit = defineRoute({
  ...read,
  id: 'readAudit',
  path: '/v1/tenants/{tenantId}/audit/{thingId}',
  auth: { kind: 'tenant', permission: 'audit:read' },
});
/** Authorized, then refused by the route itself. */
const byRoute = defineRoute({
  ...change,
  id: 'refusedByRoute',
  path: '/v1/tenants/{tenantId}/refused/{thingId}',
  auth: { kind: 'tenant', permission: 'tenant:read' },
});
/** Refused by a route that wrote the refusal itself. */
const selfAudited = defineRoute({
  ...byRoute,
  id: 'selfAudited',
  path: '/v1/tenants/{tenantId}/self/{thingId}',
});
const routes = [change, read, readAudit, byRoute, selfAudited];

const authorizer = {
  async authorize(_event: APIGatewayProxyEvent, route: { id: string }): Promise<AuthContext> {
    if (route.id === 'changeThing' || route.id === 'readThing' || route.id === 'readAudit')
      throw new TenantRefusalError('nope', 'forbidden', { scope, principal }, 'permission-missing');
    return { principal, tenant: { scope, permissions: permissionsOf('viewer'), roleCeiling: 'viewer' } };
  },
};

function handlerWith(onRefused: (refusal: AccessRefusal) => Promise<void>) {
  return createApiHandler({
    area: 'public',
    allRoutes: routes,
    authorizer,
    onRefused,
    routes: [
      ...[change, read, readAudit].map((r) => implement(r, async () => ({ status: 200 }))),
      implement(byRoute, async () => {
        throw new ForbiddenError('Not your thing.', 'owner-only');
      }),
      implement(selfAudited, async () => {
        const error = new ForbiddenError('Refused and recorded.', 'query-refused');
        error.audited = true;
        throw error;
      }),
    ],
  });
}

function event(method: string, path: string, requestId?: string): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: path,
    body: null,
    isBase64Encoded: false,
    headers: { 'User-Agent': 'sweep/1.0' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { identity: { sourceIp: '203.0.113.9' }, ...(requestId ? { requestId } : {}) } as never,
  };
}

async function call(handler: ReturnType<typeof handlerWith>, e: APIGatewayProxyEvent) {
  const res = await handler(e, lambdaContext('test'));
  return { ...res, json: res.body ? JSON.parse(res.body) : undefined };
}

describe('refused requests of verified members', () => {
  it("hands the authorizer's and the route's refusals of changes to onRefused, with who, why and the ids aimed at", async () => {
    // Prepare
    const seen: AccessRefusal[] = [];
    const handler = handlerWith(async (r) => void seen.push(r));
    // Act
    const refused = await call(handler, event('POST', `/v1/tenants/${T1}/things/th_1`));
    const byItself = await call(handler, event('POST', `/v1/tenants/${T1}/refused/th_2`));
    // Assess
    expect([refused.statusCode, byItself.statusCode]).toEqual([403, 403]);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      scope: { tenantId: T1, userId: U1 },
      route: { id: 'changeThing' },
      reason: 'permission-missing',
      target: { thingId: 'th_1' },
      actor: { userId: U1, apiKeyId: 'k_1', ip: '203.0.113.9', userAgent: 'sweep/1.0' },
    });
    expect(seen[1]).toMatchObject({
      route: { id: 'refusedByRoute' },
      reason: 'owner-only',
      target: { thingId: 'th_2' },
    });
  });

  it('records refused reads of the audit trail, not routine refused reads, and nothing the route already recorded', async () => {
    // Prepare
    const seen: AccessRefusal[] = [];
    const handler = handlerWith(async (r) => void seen.push(r));
    // Act
    const statuses = [
      (await call(handler, event('GET', `/v1/tenants/${T1}/things/th_1`))).statusCode,
      (await call(handler, event('GET', `/v1/tenants/${T1}/audit/th_1`))).statusCode,
      (await call(handler, event('POST', `/v1/tenants/${T1}/self/th_1`))).statusCode,
    ];
    // Assess
    expect(statuses).toEqual([403, 403, 403]);
    expect(seen.map((r) => r.route.id)).toEqual(['readAudit']);
    expect([change, read, readAudit, byRoute].map(isAuditedRefusal)).toEqual([true, false, true, true]);
  });

  it('keeps the 403 when the refusal cannot be recorded, and logs that it could not', async () => {
    // Prepare
    const handler = handlerWith(async () => {
      throw new Error('audit table unavailable');
    });
    const logged = vi.spyOn(logger, 'error');
    // Act
    const res = await call(handler, event('POST', `/v1/tenants/${T1}/things/th_1`));
    const calls = [...logged.mock.calls];
    logged.mockRestore();
    // Assess
    expect(res.statusCode).toBe(403);
    expect(res.json.type).toBe('https://strongroom.dev/problems/forbidden');
    expect(calls).toContainEqual([
      'could not record a refusal',
      {
        route: 'changeThing',
        error: 'Error',
      },
    ]);
  });

  it('writes auth.action.refused to the tenant log with the permission when one was missing', async () => {
    // Prepare
    const recorded: unknown[] = [];
    const record = auditRefusalsTo({ record: async (s, e) => void recorded.push({ s, e }) });
    // Act
    await record({
      scope,
      principal,
      route: change,
      actor: { userId: U1, ip: '203.0.113.9', userAgent: '' },
      reason: 'permission-missing',
      target: { thingId: 'th_1' },
    });
    await record({
      scope,
      principal,
      route: byRoute,
      actor: { userId: U1, ip: '203.0.113.9', userAgent: '' },
      reason: 'owner-only',
      target: {},
    });
    // Assess
    expect(recorded).toEqual([
      {
        s: scope,
        e: {
          action: 'auth.action.refused',
          actor: { userId: U1, ip: '203.0.113.9', userAgent: '' },
          resource: { type: 'tenant', id: T1 },
          details: {
            route: 'changeThing',
            reason: 'permission-missing',
            credential: 'api-key',
            permission: 'members:manage',
            target: { thingId: 'th_1' },
          },
        },
      },
      {
        s: scope,
        e: {
          action: 'auth.action.refused',
          actor: { userId: U1, ip: '203.0.113.9', userAgent: '' },
          resource: { type: 'tenant', id: T1 },
          details: { route: 'refusedByRoute', reason: 'owner-only', credential: 'api-key' },
        },
      },
    ]);
  });
});

describe('request ids', () => {
  it("puts API Gateway's request id on every response, in the problem body and on the request's log lines", async () => {
    // Prepare
    const handler = handlerWith(async () => {});
    const appended = vi.spyOn(logger, 'appendKeys');
    // Act
    const refused = await call(handler, event('POST', `/v1/tenants/${T1}/things/th_1`, 'gw-req-1'));
    const keys = appended.mock.calls.map(([k]) => k);
    appended.mockRestore();
    const ok = await call(handler, event('GET', `/v1/tenants/${T1}/self/th_1`, 'gw-req-2'));
    // Assess
    expect(refused.headers?.['X-Request-Id']).toBe('gw-req-1');
    expect(refused.json.requestId).toBe('gw-req-1');
    expect(ok.statusCode).toBe(405);
    expect(ok.headers?.['X-Request-Id']).toBe('gw-req-2');
    expect(ok.json.requestId).toBe('gw-req-2');
    // Keys appended for the invocation go on every log line it writes (the logger resets them after it).
    expect(keys).toContainEqual({ requestId: 'gw-req-1' });
  });

  it("falls back to the invocation's id, and never takes an id that is not one", () => {
    // Prepare
    const context = lambdaContext('test');
    // Act / Assess
    expect(requestIdOf(event('GET', '/'), context)).toBe(context.awsRequestId);
    expect(requestIdOf(event('GET', '/', 'with spaces <script>'), context)).toBe(context.awsRequestId);
    expect(requestIdOf(event('GET', '/', 'a'.repeat(129)))).toBeUndefined();
  });
});
