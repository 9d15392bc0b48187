import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { AREA_HANDLERS } from '../../infra/local/handlers.js';
import { createLocalApiServer } from '../../infra/local/server.js';
import { ROUTES } from '../../shared/schemas/routes.js';

export interface TestResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
  /**
   * Loopback address to connect from (Linux routes all of 127/8 to lo). By default every request comes
   * from a fresh address, so per-IP rate limits only bite in tests that pin one.
   */
  sourceIp?: string;
}

// Consecutive requests come from different /24s (some limits count a whole network), and every test file
// starts at its own random point, so files sharing the emulator's counters do not share addresses. The
// range 127.128.0.0-127.191.255.255 keeps clear of the addresses tests pin by hand.
let nextIp = Math.floor(Math.random() * 2 ** 22);
/** A fresh loopback address in 127.128.0.0/10. */
export function freshLoopbackIp(): string {
  nextIp = (nextIp + 1) % 2 ** 22;
  return `127.${128 + ((nextIp >> 16) & 63)}.${nextIp & 255}.${(nextIp >> 8) & 255 || 1}`;
}

/** The local API server on a free loopback port, as `npm run local` serves it, with a small client. */
export async function startTestApi() {
  const server = createLocalApiServer({ routes: ROUTES, handlers: AREA_HANDLERS });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<TestResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const target = new URL(`${url}${path}`);
    const res = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method,
          headers:
            body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          localAddress: options.sourceIp ?? freshLoopbackIp(),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined)
                responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
            resolve({
              status: response.statusCode ?? 0,
              headers: responseHeaders,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
    let parsed: unknown = res.text;
    if ((res.headers.get('content-type') ?? '').includes('json') && res.text) parsed = JSON.parse(res.text);
    return { status: res.status, headers: res.headers, body: parsed as T, text: res.text };
  }

  return {
    url,
    request,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type TestApi = Awaited<ReturnType<typeof startTestApi>>;

/**
 * The local API for the tests of one file: started before them, closed after them. Call it at the top level
 * of the file; use it in its tests and in hooks registered after it.
 */
export function useTestApi(): TestApi {
  let started: TestApi | undefined;
  beforeAll(async () => {
    started = await startTestApi();
  });
  afterAll(async () => {
    await started?.close();
  });
  const current = () => {
    if (!started) throw new Error('the test API starts in beforeAll; use it inside tests and later hooks');
    return started;
  };
  return {
    get url() {
      return current().url;
    },
    request: <T = any>(method: string, path: string, options?: RequestOptions) =>
      current().request<T>(method, path, options),
    close: () => current().close(),
  };
}

/** The last segment of a problem answer's `type` (`…/problems/mfa-required` → `mfa-required`). */
export const problemType = (res: { body: { type?: string } }) => res.body.type?.split('/').pop();
