import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import * as z from '../../../shared/domain/zod.js';
import { ConflictError } from '../../../shared/errors.js';
import { createApiHandler, implement, SECURITY_HEADERS } from '../../../shared/http/api.js';
import { defineRoute } from '../../../shared/http/route.js';

const echo = defineRoute({
  id: 'echo',
  method: 'POST',
  path: '/v1/things/{thingId}',
  area: 'public',
  summary: 'test route',
  tags: [],
  auth: { kind: 'none' },
  params: z.strictObject({ thingId: z.string().check(z.regex(/^th_\d+$/)) }),
  query: z.strictObject({ dryRun: z.optional(z.enum(['true', 'false'])) }),
  body: z.strictObject({
    name: z.string().check(z.minLength(1)),
    count: z.number().check(z.int()),
    tags: z.optional(z.array(z.string()).check(z.maxLength(2))),
  }),
  response: { status: 200, description: 'echo' },
});
const readThing = defineRoute({ ...echo, id: 'readThing', method: 'GET', body: undefined, query: undefined });
const boom = defineRoute({ ...readThing, id: 'boom', path: '/v1/boom', params: undefined });
const throttled = defineRoute({ ...boom, id: 'throttled', path: '/v1/throttled' });
const conflict = defineRoute({ ...boom, id: 'conflict', path: '/v1/conflict' });

const handler = createApiHandler({
  area: 'public',
  allRoutes: [echo, readThing, boom, throttled, conflict],
  routes: [
    implement(echo, async ({ params, body, query }) => ({ status: 200, body: { params, body, query } })),
    implement(readThing, async ({ params }) => ({ status: 200, body: params })),
    implement(boom, async () => {
      throw new Error('secret internals: password=hunter2');
    }),
    implement(throttled, async () => {
      const error = new Error('Rate exceeded');
      error.name = 'ThrottlingException';
      throw error;
    }),
    implement(conflict, async () => {
      throw new ConflictError('already there');
    }),
  ],
});

function event(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: path,
    body: body ?? null,
    isBase64Encoded: false,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { identity: { sourceIp: '203.0.113.9' } } as never,
  };
}

async function call(e: APIGatewayProxyEvent) {
  const res = await handler(e, lambdaContext('test'));
  return { ...res, json: res.body ? JSON.parse(res.body) : undefined };
}

describe('the middy stack', () => {
  it('passes validated, typed input to the route', async () => {
    // Prepare
    const e = event('POST', '/v1/things/th_1', JSON.stringify({ name: 'a', count: 2 }));
    e.queryStringParameters = { dryRun: 'true' };

    // Act
    const res = await call(e);

    // Assess
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({
      params: { thingId: 'th_1' },
      body: { name: 'a', count: 2 },
      query: { dryRun: 'true' },
    });
  });

  it('names wrong types, unknown and missing fields, bad params and query in one 400 problem', async () => {
    // Prepare: a body wrong in four ways, and an unknown query parameter
    const e = event(
      'POST',
      '/v1/things/th_1',
      JSON.stringify({ count: 'two', extra: true, tags: ['a', 'b', 'c'] }),
    );
    e.queryStringParameters = { verbose: '1' };

    // Act
    const res = await call(e);

    // Assess: one problem naming every field
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['Content-Type']).toBe('application/problem+json');
    expect(res.json.errors.map((x: { path: string }) => x.path).sort()).toEqual([
      'body.count',
      'body.extra',
      'body.name',
      'body.tags',
      'query.verbose',
    ]);

    // Act / Assess: a bad path parameter is named too
    const badParam = await call(event('POST', '/v1/things/nope', JSON.stringify({ name: 'a', count: 1 })));
    expect(badParam.statusCode).toBe(400);
    expect(badParam.json.errors[0].path).toBe('params.thingId');
  });

  it('answers malformed JSON with 400 naming the body, a missing body too', async () => {
    // Act / Assess
    const malformed = await call(event('POST', '/v1/things/th_1', '{"name": '));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json.errors).toEqual([{ path: 'body', message: 'Malformed JSON' }]);
    const missing = await call(event('POST', '/v1/things/th_1'));
    expect(missing.statusCode).toBe(400);
    expect(missing.json.errors).toEqual([{ path: 'body', message: 'A JSON body is required' }]);
  });

  it('refuses bodies over 64 KiB with 413 and non-JSON bodies with 415', async () => {
    // Act / Assess
    const big = await call(
      event('POST', '/v1/things/th_1', JSON.stringify({ name: 'x'.repeat(65 * 1024), count: 1 })),
    );
    expect(big.statusCode).toBe(413);
    const form = await call(event('POST', '/v1/things/th_1', 'name=a', { 'Content-Type': 'text/plain' }));
    expect(form.statusCode).toBe(415);
  });

  it('answers unknown routes 404 and wrong methods 405 with Allow', async () => {
    // Act / Assess
    expect((await call(event('GET', '/v1/nothing'))).statusCode).toBe(404);
    const wrong = await call(event('DELETE', '/v1/things/th_1'));
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers?.Allow).toBe('GET, HEAD, POST');
  });

  it('hides internals of unexpected errors behind a 500 problem', async () => {
    // Act
    const res = await call(event('GET', '/v1/boom'));

    // Assess
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('internals');
    expect(res.json.type).toMatch(/internal-error$/);
  });

  it('turns AWS throttling into 503 with Retry-After, and problem errors into their status', async () => {
    // Act
    const res = await call(event('GET', '/v1/throttled'));

    // Assess
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers?.['Retry-After'])).toBeGreaterThan(0);

    // Act / Assess
    expect((await call(event('GET', '/v1/conflict'))).statusCode).toBe(409);
  });

  it('puts the security headers on every response, errors included', async () => {
    // Act / Assess: a success, a 404 and a 500
    for (const e of [
      event('GET', '/v1/things/th_1'),
      event('GET', '/v1/nothing'),
      event('GET', '/v1/boom'),
    ]) {
      const res = await call(e);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers?.[name]).toBe(value);
    }

    // Assess: HSTS as the preload list asks
    expect(SECURITY_HEADERS['Strict-Transport-Security']).toBe(
      'max-age=31536000; includeSubDomains; preload',
    );
  });
});
