import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import {
  clientKeyOf,
  IPV6_SITE_FACTOR,
  ipv6SiteOf,
  networkFailureBudget,
  networkOf,
  totpFailureBudgets,
} from '../../../shared/domain/sign-in-limits.js';
import { TooManyRequestsError } from '../../../shared/errors.js';
import { createApiHandler, implement } from '../../../shared/http/api.js';
import type { RateLimiter } from '../../../shared/store/rate-limiter.js';
import { bareRoute } from '../../support/test-routes.js';

describe('networks and clients', () => {
  it('groups IPv4 by /24 and IPv6 by /48 (one site’s allocation), in any spelling', () => {
    // Act / Assess
    expect(networkOf('198.51.100.7')).toBe('198.51.100.0/24');
    expect(networkOf('::ffff:198.51.100.200')).toBe('198.51.100.0/24');
    const v6 = ['2001:db8:a:b::1', '2001:0DB8:000a:000b:ffff:ffff:ffff:ffff', '2001:db8:a:b:0:0:0:0%eth0'];
    expect(new Set(v6.map(networkOf))).toEqual(new Set(['2001:db8:a::/48']));
    // Every /64 of a /48 is the same network: one subscriber holds 65,536 of them.
    expect(networkOf('2001:db8:a:ffff::1')).toBe(networkOf('2001:db8:a:b::1'));
    expect(networkOf('2001:db8:b:b::1')).not.toBe(networkOf('2001:db8:a:b::1'));
    // Addresses that carry an IPv4 address count as that address: NAT64 and 6to4.
    expect(networkOf('64:ff9b::192.0.2.1')).toBe('192.0.2.0/24');
    expect(networkOf('2002:c000:0201::1')).toBe('192.0.2.0/24');
    expect(networkOf('2002:c000:02ff:1::1')).toBe('192.0.2.0/24');
    for (const odd of ['unknown', '256.1.1.1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1'])
      expect(networkOf(odd)).toBe(odd);
  });

  it('keys per-client limits by IPv4 address (NAT neighbours are not punished) and by IPv6 /64', () => {
    // Act / Assess
    expect(clientKeyOf('198.51.100.7')).toBe('198.51.100.7');
    expect(clientKeyOf('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientKeyOf('2001:db8::1')).toBe(clientKeyOf('2001:db8::ffff:1'));
    expect(clientKeyOf('2001:db8:0:1::1')).not.toBe(clientKeyOf('2001:db8::1'));
    expect(clientKeyOf('64:ff9b::c000:207')).toBe('192.0.2.7');
    expect(clientKeyOf('2002:c000:0207::9')).toBe('192.0.2.7');
    expect(ipv6SiteOf('2001:db8:7:1::1')).toBe('2001:db8:7::/48');
    expect(ipv6SiteOf('198.51.100.7')).toBeUndefined();
    expect(ipv6SiteOf('2002:c000:0207::9')).toBeUndefined();
  });

  it('budgets failures per account and network, smaller under attack; TOTP codes per account', () => {
    // Act / Assess
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
  const limited = bareRoute({
    id: 'limited',
    method: 'POST',
    path: '/v1/limited',
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
    // Prepare
    const statuses: number[] = [];
    let last: { headers?: Record<string, unknown> } = {};

    // Act: three addresses of one /64, then one of another /64
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3']) {
      last = await handler(from(ip), lambdaContext('test'));
      statuses.push((last as { statusCode: number }).statusCode);
    }
    const elsewhere = await handler(from('2001:db8:1:3::1'), lambdaContext('test'));

    // Assess: the third is refused with the limiter's Retry-After; another /64 is another client; each
    // request counted against its /64 and its /48
    expect(statuses).toEqual([204, 204, 429]);
    expect(last.headers?.['Retry-After']).toBe('42');
    expect(elsewhere.statusCode).toBe(204);
    expect(new Set(keys)).toEqual(new Set(['2001:db8:1:2::/64', '2001:db8:1:3::/64', '2001:db8:1::/48']));
  });

  it(`holds one IPv6 /48 to ${IPV6_SITE_FACTOR} clients' worth, however many /64s it uses`, async () => {
    // Act: two requests' worth from each of many /64s of one /48
    const statuses: number[] = [];
    for (let subnet = 0x100; subnet < 0x100 + IPV6_SITE_FACTOR * 2; subnet++)
      statuses.push(
        (await handler(from(`2001:db8:9:${subnet.toString(16)}::1`), lambdaContext('test'))).statusCode,
      );

    // Assess: two requests per /64 would pass; the /48 stops the site at its factor times the limit.
    expect(statuses.filter((s) => s === 204)).toHaveLength(IPV6_SITE_FACTOR * 2);

    // Act / Assess: more /64s of that /48 are refused
    for (let subnet = 0x200; subnet < 0x200 + IPV6_SITE_FACTOR; subnet++)
      expect(
        (await handler(from(`2001:db8:9:${subnet.toString(16)}::1`), lambdaContext('test'))).statusCode,
      ).toBe(429);

    // Act / Assess: another /48 is another site.
    expect((await handler(from('2001:db8:a:1::1'), lambdaContext('test'))).statusCode).toBe(204);
  });

  it('keys per-network rules by IPv4 /24 and IPv6 /48', async () => {
    // Prepare: a route limited per network, with its own limiter
    const perNetwork = bareRoute({
      id: 'perNetwork',
      method: 'POST',
      path: '/v1/per-network',
      rateLimits: [{ name: 'per-network', per: 'network', limit: 2, windowSeconds: 60 }],
      response: { status: 204, description: 'ok' },
    });
    const seen: string[] = [];
    const networkHandler = createApiHandler({
      area: 'public',
      allRoutes: [perNetwork],
      routes: [implement(perNetwork, async () => ({ status: 204 }))],
      rateLimiter: {
        consume: async (_name, key, limit) => {
          seen.push(key);
          if (seen.filter((k) => k === key).length > limit) throw new TooManyRequestsError(7);
        },
      },
    });
    const at = (sourceIp: string) =>
      networkHandler(
        { ...from(sourceIp), path: '/v1/per-network' } as APIGatewayProxyEvent,
        lambdaContext('test'),
      ).then((r) => r.statusCode);

    // Act / Assess: three requests from one IPv4 /24, then three from one IPv6 /48, then another /24
    expect([await at('198.51.100.1'), await at('198.51.100.2'), await at('198.51.100.3')]).toEqual([
      204, 204, 429,
    ]);
    expect([await at('2001:db8:5:1::1'), await at('2001:db8:5:2::1'), await at('2001:db8:5:3::1')]).toEqual([
      204, 204, 429,
    ]);
    expect(await at('198.51.101.1')).toBe(204);

    // Assess: the keys counted
    expect(new Set(seen)).toEqual(new Set(['198.51.100.0/24', '2001:db8:5::/48', '198.51.101.0/24']));
  });
});
