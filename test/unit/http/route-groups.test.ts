import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_ROUTE_KEYS,
  OIDC_ROUTE_KEYS,
  PASSKEY_ROUTE_KEYS,
} from '../../../functions/auth/lazy/route-keys.js';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import type { AsyncMembers } from '../../../shared/aws/loaded-on-use.js';
import * as z from '../../../shared/domain/zod.js';
import { UnauthorizedError } from '../../../shared/errors.js';
import { type BoundRoute, createApiHandler, implement, routesLoadedOnUse } from '../../../shared/http/api.js';
import type { Authorizer } from '../../../shared/http/auth-context.js';
import { defineRoute, type RouteDef, type RouteKey } from '../../../shared/http/route.js';
import { accountRoutes } from '../../../shared/schemas/account.js';
import { oidcRoutes } from '../../../shared/schemas/oidc.js';
import { passkeyRoutes } from '../../../shared/schemas/passkeys.js';

const listWidgets = defineRoute({
  id: 'listWidgets',
  method: 'GET',
  path: '/v1/widgets',
  area: 'auth',
  summary: 'test route',
  tags: [],
  auth: { kind: 'session' },
  response: { status: 200, description: 'widgets' },
});
const addWidget = defineRoute({
  ...listWidgets,
  id: 'addWidget',
  method: 'POST',
  auth: { kind: 'none' },
  body: z.strictObject({ name: z.string().check(z.minLength(1)) }),
  response: { status: 201, description: 'added' },
});
const KEYS: readonly RouteKey[] = [listWidgets, addWidget].map(({ method, path }) => ({ method, path }));

/** A handler whose widget routes are a group loaded on use by `load`; counts the loads and who asked. */
function handlerWith(load: () => Promise<readonly BoundRoute[]>) {
  const seen = { loads: 0, authorized: [] as string[] };
  const authorizer: Authorizer = {
    authorize: async (event, route) => {
      seen.authorized.push(route.id);
      if (event.headers.Authorization !== 'Bearer ok') throw new UnauthorizedError();
      return {};
    },
  };
  const handler = createApiHandler({
    area: 'auth',
    allRoutes: KEYS,
    authorizer,
    routes: [
      routesLoadedOnUse(KEYS, async () => {
        seen.loads++;
        return load();
      }),
    ],
  });
  const call = async (
    method: string,
    body?: unknown,
    headers: Record<string, string> = {},
    path = '/v1/widgets',
  ) => {
    const event = {
      httpMethod: method,
      path,
      resource: path,
      body: body === undefined ? null : JSON.stringify(body),
      isBase64Encoded: false,
      headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      requestContext: { identity: { sourceIp: '203.0.113.9' } } as never,
    } satisfies APIGatewayProxyEvent;
    const res = await handler(event, lambdaContext('test'));
    return {
      status: res.statusCode,
      headers: res.headers,
      json: res.body ? JSON.parse(res.body) : undefined,
    };
  };
  return { call, seen };
}

const widgetRoutes = async (): Promise<readonly BoundRoute[]> => [
  implement(listWidgets, async () => ({ status: 200, body: { items: ['a'] } })),
  implement(addWidget, async ({ body }) => ({ status: 201, body: { added: body.name } })),
];

/** Routes whose definitions and implementations a function loads by their first request (shared/http/api.ts). */
describe('routes loaded on use', () => {
  it('are loaded once, by the first request, and answer with their own schemas and auth requirement', async () => {
    // Prepare
    const { call, seen } = handlerWith(widgetRoutes);

    // Act
    const added = await call('POST', { name: 'w' });
    const invalid = await call('POST', { name: '' });
    const anonymous = await call('GET');
    const listed = await call('GET', undefined, { Authorization: 'Bearer ok' });

    // Assess
    expect(added).toMatchObject({ status: 201, json: { added: 'w' } });
    expect(invalid.status).toBe(400);
    expect(invalid.json.errors).toEqual([{ path: 'body.name', message: expect.any(String) }]);
    expect(anonymous.status).toBe(401);
    expect(listed).toMatchObject({ status: 200, json: { items: ['a'] } });
    // The loaded route's requirement is what was checked: the session route, not the open one.
    expect(seen).toEqual({ loads: 1, authorized: ['listWidgets', 'listWidgets'] });
  });

  it('answer 405 with Allow from the declared keys, and unknown paths 404, without loading the group', async () => {
    // Prepare
    const { call, seen } = handlerWith(widgetRoutes);

    // Act
    const wrongMethod = await call('DELETE');
    const unknown = await call('GET', undefined, {}, '/v1/gadgets');

    // Assess
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers?.Allow).toBe('GET, HEAD, POST');
    expect(unknown.status).toBe(404);
    expect(seen.loads).toBe(0);
  });

  it.each([
    [
      'a route it did not declare',
      [
        implement(addWidget, async () => ({ status: 201 })),
        implement({ ...listWidgets, path: '/v1/other' } as RouteDef, async () => ({ status: 200 })),
      ],
    ],
    ['fewer routes than it declared', [implement(addWidget, async () => ({ status: 201 }))]],
    [
      'a declared route twice',
      [
        implement(addWidget, async () => ({ status: 201 })),
        implement(addWidget, async () => ({ status: 201 })),
        implement(listWidgets, async () => ({ status: 200 })),
      ],
    ],
  ])('refuse a group that loads %s: 500, and no route of it runs', async (_case, loaded) => {
    // Prepare
    const { call, seen } = handlerWith(async () => loaded);

    // Act
    const res = await call('POST', { name: 'w' });
    const again = await call('GET', undefined, { Authorization: 'Bearer ok' });

    // Assess: refused for good, not loaded again
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ type: 'https://strongroom.dev/problems/internal-error' });
    expect(again.status).toBe(500);
    expect(seen).toEqual({ loads: 1, authorized: [] });
  });

  it('share one load between concurrent first requests', async () => {
    // Prepare: a load that takes a while
    const { call, seen } = handlerWith(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return widgetRoutes();
    });

    // Act
    const answers = await Promise.all([
      call('POST', { name: 'a' }),
      call('POST', { name: 'b' }),
      call('GET', undefined, { Authorization: 'Bearer ok' }),
    ]);

    // Assess
    expect(answers.map((a) => a.status)).toEqual([201, 201, 200]);
    expect(seen.loads).toBe(1);
  });

  it('load again after a failed load, on the next request', async () => {
    // Prepare: the first load fails (a chunk that could not be read), the next succeeds
    let attempts = 0;
    const { call, seen } = handlerWith(async () => {
      if (++attempts === 1) throw new Error('chunk not readable');
      return widgetRoutes();
    });

    // Act
    const first = await call('POST', { name: 'w' });
    const second = await call('POST', { name: 'w' });
    const third = await call('POST', { name: 'v' });

    // Assess
    expect([first.status, second.status, third.status]).toEqual([500, 201, 201]);
    expect(seen.loads).toBe(2);
  });

  it("declare the auth function's account, passkey and OpenID routes exactly, and its groups load exactly those", async () => {
    // Prepare
    const keysOf = (routes: readonly RouteKey[]) =>
      routes.map(({ method, path }) => `${method} ${path}`).sort();
    const service = new Proxy({}, { get: () => async () => undefined }) as AsyncMembers<never>;

    // Act
    const [{ passkeyRoutesFor }, { oidcRoutesFor }, { accountRoutesFor }] = await Promise.all([
      import('../../../functions/auth/lazy/passkey-routes.js'),
      import('../../../functions/auth/lazy/oidc-routes.js'),
      import('../../../functions/auth/lazy/account-routes.js'),
    ]);

    // Assess
    expect(keysOf(ACCOUNT_ROUTE_KEYS)).toEqual(keysOf(accountRoutes));
    expect(keysOf(accountRoutesFor(service as never, service as never).map((b) => b.route))).toEqual(
      keysOf(accountRoutes),
    );
    expect(keysOf(PASSKEY_ROUTE_KEYS)).toEqual(keysOf(passkeyRoutes));
    expect(keysOf(OIDC_ROUTE_KEYS)).toEqual(keysOf(oidcRoutes));
    expect(keysOf(passkeyRoutesFor(service as never).map((b) => b.route))).toEqual(keysOf(passkeyRoutes));
    expect(keysOf(oidcRoutesFor(service as never).map((b) => b.route))).toEqual(keysOf(oidcRoutes));
  });
});
