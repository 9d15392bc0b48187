import { request } from 'node:http';

/**
 * One HTTP request with an optional JSON body and bearer token, from `localAddress` when given (a loopback
 * address of its own, so the caller spends no one else's per-network rate limit); the status and the raw
 * answer. For local mode's seeding, the bench and the browser tests, which talk to `npm run local` over HTTP.
 */
export function jsonRequest(options: {
  url: URL;
  method: string;
  body?: unknown;
  token?: string;
  localAddress?: string;
  userAgent?: string;
}): Promise<{ status: number; text: string }> {
  const { url, body, token } = options;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        localAddress: options.localAddress,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(options.userAgent ? { 'user-agent': options.userAgent } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
