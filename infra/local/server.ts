import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { SECURITY_HEADERS } from '../../shared/http/api.js';
import { type Area, matchPath, type RouteDef } from '../../shared/http/route.js';
import { lambdaContext } from './lambda-context.js';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** API Gateway REST rejects payloads above 10 MB before the function runs. */
const GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024;

/**
 * Resolves which function API Gateway would invoke for a request: the area of the route whose resource and
 * method match, else the public function (behind `{proxy+}` and the per-resource `ANY` methods).
 */
export function resolveTarget(
  routes: readonly RouteDef[],
  method: string,
  path: string,
): { area: Area; resource: string } {
  const literal = (p: string) => p.split('/').filter((s) => s && !s.startsWith('{')).length;
  const matches = routes
    .filter((r) => matchPath(r.path, path))
    .sort((a, b) => literal(b.path) - literal(a.path));
  const best = matches[0];
  if (!best) return { area: 'public', resource: '/{proxy+}' };
  const route = matches.find((r) => r.method === method && literal(r.path) === literal(best.path));
  return route ? { area: route.area, resource: route.path } : { area: 'public', resource: best.path };
}

/** Builds the REST API proxy event API Gateway would send for this request. */
export function toApiGatewayEvent(
  request: IncomingMessage,
  body: Buffer,
  resource: string,
  routes: readonly RouteDef[],
): APIGatewayProxyEvent {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const route = routes.find((r) => r.path === resource);
  const pathParameters = route
    ? (matchPath(route.path, url.pathname) ?? null)
    : { proxy: url.pathname.slice(1) };
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  const now = Date.now();
  return {
    resource,
    path: url.pathname,
    httpMethod: (request.method ?? 'GET').toUpperCase(),
    headers,
    multiValueHeaders,
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multiQuery : null,
    pathParameters,
    stageVariables: null,
    body: body.length ? (isText ? text : body.toString('base64')) : null,
    isBase64Encoded: body.length > 0 && !isText,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: (request.method ?? 'GET').toUpperCase(),
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: resource,
      identity: {
        // API Gateway takes this from the TCP connection, never from X-Forwarded-For.
        sourceIp: normaliseIp(request.socket.remoteAddress ?? ''),
        userAgent: request.headers['user-agent'] ?? null,
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
    },
  };
}

function normaliseIp(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > GATEWAY_MAX_PAYLOAD) {
        resolve(undefined);
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(size > GATEWAY_MAX_PAYLOAD ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export interface LocalApiOptions {
  routes: readonly RouteDef[];
  handlers: Record<Area, () => Promise<ApiHandler>>;
  onError?: (error: unknown) => void;
  /** Serves the console's built files under /console/ (same origin as the API, as CloudFront does). */
  console?: (request: IncomingMessage, response: ServerResponse, pathname: string) => Promise<boolean>;
}

/** An HTTP server that invokes the area handlers exactly as API Gateway's proxy integration would. */
export function createLocalApiServer(options: LocalApiOptions): Server {
  return createServer(async (request: IncomingMessage, response: ServerResponse) => {
    try {
      if (options.console) {
        const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
        if (await options.console(request, response, pathname)) return;
      }
      const body = await readBody(request);
      if (body === undefined) {
        gatewayProblem(response, 413, 'Request Too Long');
        return;
      }
      const url = new URL(request.url ?? '/', 'http://localhost');
      const target = resolveTarget(options.routes, (request.method ?? 'GET').toUpperCase(), url.pathname);
      const event = toApiGatewayEvent(request, body, target.resource, options.routes);
      const handler = await options.handlers[target.area]();
      const result = await handler(event, lambdaContext(`strongroom-${target.area}`));
      const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
      for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
        headers[name] = values.map(String);
      response.writeHead(result.statusCode, headers);
      response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    } catch (error) {
      options.onError?.(error);
      gatewayProblem(response, 502, 'Bad Gateway');
    }
  });
}

/**
 * An answer the gateway makes itself (the function never ran, or failed without answering): problem+json
 * with the same security headers as every other response, as the deployed API's gateway responses carry.
 */
function gatewayProblem(response: ServerResponse, status: number, title: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  // The deployed gateway's responses carry its request id too (infra/constructs/strongroom-api.ts).
  const requestId = randomUUID();
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/problem+json',
    'X-Request-Id': requestId,
  });
  response.end(JSON.stringify({ type: 'about:blank', title, status, requestId }));
}
