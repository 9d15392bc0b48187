import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/lambda-context.js';
import { ENV_VARS } from '../../../shared/aws/config.js';
import { FunctionRuntime } from '../../../shared/aws/runtime.js';
import { createApiHandler, implement } from '../../../shared/http/api.js';
import {
  ORIGIN_VERIFY_HEADER,
  originSecretMatches,
  parseViewerAddress,
  resolveClientIp,
  VIEWER_ADDRESS_HEADER,
} from '../../../shared/http/client-ip.js';
import { logger } from '../../../shared/observability.js';
import { captureProcessOutput } from '../../support/log-capture.js';
import { bareRoute } from '../../support/test-routes.js';

const SECRET = 'k3Y8nQ2vWz7TqL0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefghijklm';
const EDGE = '130.176.1.17'; // what API Gateway sees behind CloudFront: the edge's address

function event(
  headers: Record<string, string> = {},
  multi: Record<string, string[]> = {},
): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    path: '/v1/whoami',
    resource: '/v1/whoami',
    body: null,
    isBase64Encoded: false,
    headers,
    multiValueHeaders: multi,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { identity: { sourceIp: EDGE } } as never,
  };
}

describe('parseViewerAddress', () => {
  it.each([
    ['198.51.100.10:46532', '198.51.100.10'],
    ['198.51.100.10:0', '198.51.100.10'],
    ['198.51.100.10:65535', '198.51.100.10'],
    [' 198.51.100.10:443 ', '198.51.100.10'],
    ['2001:db8::1:46532', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1:443', '2001:db8:0:0:0:0:0:1'],
    ['[2001:db8::1]:46532', '2001:db8::1'],
    ['::1:80', '::1'],
    ['::ffff:198.51.100.7:1234', '198.51.100.7'],
    ['[::ffff:198.51.100.7]:1234', '198.51.100.7'],
  ])('reads %s as %s', (value, ip) => {
    // Act / Assess
    expect(parseViewerAddress(value)).toBe(ip);
  });

  it.each([
    '',
    '198.51.100.10', // no port
    '198.51.100.10:', // empty port
    '198.51.100.10:65536',
    '198.51.100.10:123456',
    '198.51.100.10:-1',
    '198.51.100.10:8o',
    '198.51.100.256:443',
    '198.51.100:443',
    '01.2.3.4:443', // leading zero: not an address node accepts
    ':443',
    'localhost:443',
    'example.com:443',
    '2001:db8::1', // the last group is taken as the port; what is left is no address
    '[2001:db8::1]', // brackets without a port
    '[198.51.100.10]:443', // brackets are for IPv6
    '[2001:db8::1]:', // empty port
    '[2001:db8::1]:443:1',
    'fe80::1%eth0:443', // a zone id
    '198.51.100.10:443, 203.0.113.1:443', // a list
    '198.51.100.10 :443',
    'unknown',
  ])('refuses %j', (value) => {
    // Act / Assess
    expect(parseViewerAddress(value)).toBeUndefined();
  });

  it('refuses undefined', () => {
    // Act / Assess
    expect(parseViewerAddress(undefined)).toBeUndefined();
  });
});

describe('originSecretMatches', () => {
  it('matches only the configured secret, exactly', () => {
    // Act / Assess
    expect(originSecretMatches(SECRET, SECRET)).toBe(true);
    expect(originSecretMatches(`${SECRET} `, SECRET)).toBe(false);
    expect(originSecretMatches(SECRET.slice(0, -1), SECRET)).toBe(false);
    expect(originSecretMatches(SECRET.toUpperCase(), SECRET)).toBe(false);
    expect(originSecretMatches('', SECRET)).toBe(false);
    expect(originSecretMatches(undefined, SECRET)).toBe(false);
  });

  it('matches nothing when no secret is configured, not even an empty header', () => {
    // Act / Assess
    expect(originSecretMatches('', undefined)).toBe(false);
    expect(originSecretMatches('', '')).toBe(false);
    expect(originSecretMatches(SECRET, undefined)).toBe(false);
  });
});

describe('resolveClientIp: whom to believe', () => {
  const viewer = { [VIEWER_ADDRESS_HEADER]: '198.51.100.10:46532' };

  it('believes the viewer address when the request carries the right secret', () => {
    // Prepare
    const e = event({ ...viewer, [ORIGIN_VERIFY_HEADER]: SECRET });

    // Act / Assess
    expect(resolveClientIp(e, SECRET)).toEqual({ ip: '198.51.100.10', source: 'viewer-address' });
  });

  it('matches the header names in any capitalisation', () => {
    // Prepare
    const e = event({ 'CloudFront-Viewer-Address': '[2001:db8::7]:1', 'X-Strongroom-Origin-Verify': SECRET });

    // Act / Assess
    expect(resolveClientIp(e, SECRET)).toEqual({ ip: '2001:db8::7', source: 'viewer-address' });
  });

  it('uses the connection when the secret is missing, wrong, or almost right', () => {
    // Act / Assess: each wrong secret
    for (const presented of [undefined, '', 'wrong', SECRET.slice(1), `${SECRET}x`, SECRET.toLowerCase()]) {
      const headers: Record<string, string> = { ...viewer };
      if (presented !== undefined) headers[ORIGIN_VERIFY_HEADER] = presented;
      expect(resolveClientIp(event(headers), SECRET)).toEqual({ ip: EDGE, source: 'connection' });
    }
  });

  it('never believes the header where no secret is configured (local mode), whatever the request sends', () => {
    // Act / Assess: with no secret configured, an empty header and the real secret alike
    for (const configured of [undefined, '']) {
      const e = event({ ...viewer, [ORIGIN_VERIFY_HEADER]: '' });
      expect(resolveClientIp(e, configured)).toEqual({ ip: EDGE, source: 'connection' });
      expect(resolveClientIp(event({ ...viewer, [ORIGIN_VERIFY_HEADER]: SECRET }), configured)).toEqual({
        ip: EDGE,
        source: 'connection',
      });
    }
  });

  it('refuses two secret headers, even if one is right (CloudFront sends exactly one)', () => {
    // Prepare
    const e = event({ ...viewer }, { [ORIGIN_VERIFY_HEADER]: ['wrong', SECRET] });

    // Act / Assess
    expect(resolveClientIp(e, SECRET)).toEqual({ ip: EDGE, source: 'connection' });
  });

  it('uses the connection, and says why, when the right secret comes with no usable viewer address', () => {
    // Act / Assess: no viewer address
    expect(resolveClientIp(event({ [ORIGIN_VERIFY_HEADER]: SECRET }), SECRET)).toEqual({
      ip: EDGE,
      source: 'connection',
      problem: 'viewer-address-missing',
    });

    // Act / Assess: malformed ones, and two of them
    for (const bad of ['198.51.100.10', 'evil.example:443', '[::1]', '1.2.3.4:99999']) {
      const e = event({ [VIEWER_ADDRESS_HEADER]: bad, [ORIGIN_VERIFY_HEADER]: SECRET });
      expect(resolveClientIp(e, SECRET)).toEqual({
        ip: EDGE,
        source: 'connection',
        problem: 'viewer-address-malformed',
      });
    }
    const two = event(
      { [ORIGIN_VERIFY_HEADER]: SECRET },
      { [VIEWER_ADDRESS_HEADER]: ['1.2.3.4:1', '5.6.7.8:1'] },
    );
    expect(resolveClientIp(two, SECRET).problem).toBe('viewer-address-malformed');
  });
});

describe('the API stack with an origin secret configured', () => {
  const whoami = bareRoute({
    id: 'whoami',
    method: 'GET',
    path: '/v1/whoami',
    response: { status: 200, description: 'the caller' },
  });
  /** The API stack of a function whose runtime has `secret` as its ORIGIN_VERIFY_SECRET (none: unset). */
  const handlerWith = (secret?: string) =>
    createApiHandler({
      runtime: new FunctionRuntime(secret === undefined ? {} : { [ENV_VARS.originVerifySecret]: secret }),
      area: 'public',
      allRoutes: [whoami],
      routes: [
        implement(whoami, async ({ sourceIp, event: e }) => ({
          status: 200,
          body: { sourceIp, headers: e.headers, multiValueHeaders: e.multiValueHeaders },
        })),
      ],
    });
  const configured = handlerWith(SECRET);
  const unconfigured = handlerWith(undefined);

  async function call(e: APIGatewayProxyEvent, handler = configured) {
    const res = await handler(e, lambdaContext('test'));
    return { status: res.statusCode, json: JSON.parse(res.body) };
  }

  it('gives the route the viewer address and an event without the secret', async () => {
    // Prepare: the secret in both header maps, in another capitalisation than the constant's
    const request = event(
      { [VIEWER_ADDRESS_HEADER]: '198.51.100.10:46532', 'X-Strongroom-Origin-Verify': SECRET },
      { 'X-Strongroom-Origin-Verify': [SECRET], [VIEWER_ADDRESS_HEADER]: ['198.51.100.10:46532'] },
    );

    // Act
    const res = await call(request);

    // Assess: the viewer's address, and no trace of the secret in what the route saw
    expect(res.status).toBe(200);
    expect(res.json.sourceIp).toBe('198.51.100.10');
    expect(JSON.stringify(res.json)).not.toContain(SECRET);
    expect(res.json.headers).toEqual({ [VIEWER_ADDRESS_HEADER]: '198.51.100.10:46532' });
  });

  it('strips a wrong secret too, and gives the route the connection address', async () => {
    // Act
    const res = await call(
      event({ [VIEWER_ADDRESS_HEADER]: '198.51.100.10:1', [ORIGIN_VERIFY_HEADER]: 'guess' }),
    );

    // Assess
    expect(res.json.sourceIp).toBe(EDGE);
    expect(res.json.headers).toEqual({ [VIEWER_ADDRESS_HEADER]: '198.51.100.10:1' });
  });

  it('logs a warning without the secret when the right secret comes without a viewer address', async () => {
    // Prepare: warnings captured
    logger.setLogLevel('WARN');
    const output = captureProcessOutput();
    let res: Awaited<ReturnType<typeof call>>;

    // Act
    try {
      res = await call(event({ [ORIGIN_VERIFY_HEADER]: SECRET }));
    } finally {
      output.restore();
      logger.setLogLevel('SILENT');
    }

    // Assess: the connection's address, and a warning that names the problem but not the secret
    expect(res.json.sourceIp).toBe(EDGE);
    expect(output.text()).toContain('origin request without a usable viewer address');
    expect(output.text()).toContain('viewer-address-missing');
    expect(output.text()).not.toContain(SECRET);
  });

  it('ignores the viewer address without a configured secret', async () => {
    // Act: a function whose runtime has no ORIGIN_VERIFY_SECRET (local mode)
    const res = await call(
      event({ [VIEWER_ADDRESS_HEADER]: '198.51.100.10:1', [ORIGIN_VERIFY_HEADER]: SECRET }),
      unconfigured,
    );

    // Assess
    expect(res.json.sourceIp).toBe(EDGE);
  });
});
