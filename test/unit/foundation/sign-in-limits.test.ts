import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import {
  clientKeyOf,
  networkFailureBudget,
  networkOf,
  totpFailureBudgets,
} from '../../../shared/domain/sign-in-limits.js';
import { createApiHandler, implement } from '../../../shared/http/api.js';
import type { RateLimiter } from '../../../shared/http/auth-context.js';
import { TooManyRequestsError } from '../../../shared/http/errors.js';
import { defineRoute } from '../../../shared/http/route.js';

describe('networks and clients', () => {
  it('groups IPv4 by /24 and IPv6 by /64, in any spelling', () => {
    expect(networkOf('198.51.100.7')).toBe('198.51.100.0/24');
    expect(networkOf('::ffff:198.51.100.200')).toBe('198.51.100.0/24');
    const v6 = ['2001:db8:a:b::1', '2001:0DB8:000a:000b:ffff:ffff:ffff:ffff', '2001:db8:a:b:0:0:0:0%eth0'];
    expect(new Set(v6.map(networkOf))).toEqual(new Set(['2001:db8:a:b::/64']));
    expect(networkOf('2001:db8:a:c::1')).not.toBe(networkOf('2001:db8:a:b::1'));
    expect(networkOf('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    for (const odd of ['unknown', '256.1.1.1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1'])
      expect(networkOf(odd)).toBe(odd);
  });

  it('keys per-client limits by IPv4 address (NAT neighbours are not punished) and by IPv6 /64', () => {
    expect(clientKeyOf('198.51.100.7')).toBe('198.51.100.7');
    expect(clientKeyOf('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientKeyOf('2001:db8::1')).toBe(clientKeyOf('2001:db8::ffff:1'));
  });

  it('budgets failures per account and network, smaller under attack; TOTP codes per account', () => {
    expect(networkFailureBudget('a@example.test', '198.51.100.7', false)).toEqual({
      name: 'signin-failures',
      key: 'a@example.test#198.51.100.0/24',
      limit: 10,
      windowSeconds: 3600,
    });
    expect(networkFailureBudget('a@example.test', '198.51.100.7', true).limit).toBe(3);
    expect(totpFailureBudgets('a@example.test')).toEqual([
      { name: 'totp-failures-3600s', key: 'a@example.test', limit: 10, windowSeconds: 3600 },
      { name: 'totp-failures-86400s', key: 'a@example.test', limit: 30, windowSeconds: 86_400 },
    ]);
  });
});

describe('route rate limits', () => {
  const limited = defineRoute({
    id: 'limited',
    method: 'POST',
    path: '/v1/limited',
    area: 'public',
    summary: 'test route',
    tags: [],
    auth: { kind: 'none' },
    rateLimits: [{ name: 'limited-ip', limit: 2, windowSeconds: 60 }],
    response: { status: 204, description: 'ok' },
  });
  const keys: string[] = [];
  const limiter: RateLimiter = {
    consume: async (_name, key, limit) => {
      keys.push(key);
      if (keys.filter((k) => k === key).length > limit) throw new TooManyRequestsError(42);
    },
  };
  const handler = createApiHandler({
    area: 'public',
    allRoutes: [limited],
    routes: [implement(limited, async () => ({ status: 204 }))],
    rateLimiter: limiter,
  });
  const from = (sourceIp: string) =>
    ({
      httpMethod: 'POST',
      path: '/v1/limited',
      headers: {},
      body: null,
      requestContext: { identity: { sourceIp } },
    }) as unknown as APIGatewayProxyEvent;

  it('counts every address of one IPv6 /64 as one client, and answers 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: { headers?: Record<string, unknown> } = {};
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3']) {
      last = await handler(from(ip), lambdaContext('test'));
      statuses.push((last as { statusCode: number }).statusCode);
    }
    const elsewhere = await handler(from('2001:db8:1:3::1'), lambdaContext('test'));
    expect(statuses).toEqual([204, 204, 429]);
    expect(last.headers?.['Retry-After']).toBe('42');
    expect(elsewhere.statusCode).toBe(204);
    expect(new Set(keys)).toEqual(new Set(['2001:db8:1:2::/64', '2001:db8:1:3::/64']));
  });
});
