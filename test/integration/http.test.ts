import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLocalApiServer } from '../../infra/local/server.js';
import { SECURITY_HEADERS } from '../../shared/http/api.js';
import { AREAS } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { useTestApi } from '../support/local-api.js';

const api = useTestApi();

describe('the local API (API Gateway proxy events, real handlers)', () => {
  it('answers /health with 200 and every security header', async () => {
    // Act
    const res = await api.request('GET', '/health');

    // Assess
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', service: 'strongroom' });
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
  });

  it('serves an OpenAPI 3.1 document with every route of the route list', async () => {
    // Act
    const res = await api.request('GET', '/openapi.json');

    // Assess: each route's operation, its body schema and security; every reference resolves
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    for (const route of ROUTES) {
      const operation = res.body.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation?.operationId, `${route.method} ${route.path}`).toBe(route.id);
      if (route.body) expect(operation.requestBody.content['application/json'].schema).toBeTypeOf('object');
      expect(operation.security).toEqual(route.auth.kind === 'none' ? [] : [{ bearer: [] }]);
    }
    const refs = [...res.text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(res.body.components.schemas[ref.split('/').pop()!], ref).toBeTypeOf('object');
    }
  });

  it('answers unknown paths 404 and known paths with a wrong method 405, as problems', async () => {
    // Act / Assess: an unknown path
    const missing = await api.request('GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');

    // Act / Assess: a known path, a wrong method
    const wrong = await api.request('PUT', '/health');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    expect(wrong.headers.get('x-frame-options')).toBe('DENY');
  });

  it('answers HEAD like GET without a body where the GET is served, else 405', async () => {
    // Act / Assess: a GET this function serves
    const head = await api.request('HEAD', '/health');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(head.headers.get('x-content-type-options')).toBe('nosniff');

    // Act / Assess
    // A GET another function serves: API Gateway sends HEAD to the catch-all, which cannot answer it.
    const other = await api.request('HEAD', '/v1/me');
    expect(other.status).toBe(405);
    expect(other.headers.get('allow')).toBe('GET');
  });

  it("puts the security headers and a problem body on the gateway's own 413", async () => {
    // Act
    const res = await api.request('POST', '/v1/auth/login', { rawBody: 'x'.repeat(10 * 1024 * 1024 + 1) });

    // Assess
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
    expect(res.body).toEqual({
      type: 'about:blank',
      title: 'Request Too Long',
      status: 413,
      requestId: res.headers.get('x-request-id'),
    });
    expect(res.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("puts the security headers and a problem body on the gateway's own 502", async () => {
    // Prepare: a server whose every function crashes
    const failing = createLocalApiServer({
      routes: ROUTES,
      handlers: Object.fromEntries(
        AREAS.map((area) => [area, async () => async () => Promise.reject(new Error('function crashed'))]),
      ) as never,
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', () => resolve()));
    try {
      const { port } = failing.address() as AddressInfo;

      // Act
      const res = await fetch(`http://127.0.0.1:${port}/health`);

      // Assess
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
      expect(await res.json()).toEqual({
        type: 'about:blank',
        title: 'Bad Gateway',
        status: 502,
        requestId: res.headers.get('x-request-id'),
      });
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it('sees the caller address from the connection, not from X-Forwarded-For', async () => {
    // Prepare
    const sourceIp = '127.9.9.9';
    const statuses: number[] = [];

    // Act: four sign-ups from one address, each claiming another in X-Forwarded-For
    for (let i = 0; i < 4; i++) {
      const res = await api.request('POST', '/v1/auth/register', {
        sourceIp,
        headers: { 'x-forwarded-for': `10.0.0.${i}` },
        body: { email: `xff-${i}-${Date.now()}@example.test`, password: 'a-long-password-1', name: 'X' },
      });
      statuses.push(res.status);
    }

    // Assess: the fourth is over the address's limit
    expect(statuses).toEqual([202, 202, 202, 429]);
  });
});
