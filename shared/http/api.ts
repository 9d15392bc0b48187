import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type FunctionRuntime, functionRuntime, tracingMiddlewares } from '../aws/runtime.js';
import { auditActorOf } from '../domain/caller.js';
import { clientKeyOf, IPV6_SITE_FACTOR, ipv6SiteOf, networkOf } from '../domain/sign-in-limits.js';
import { displayableHeader, findUnsafeText, USER_AGENT_MAX_LENGTH } from '../domain/text.js';
import * as z from '../domain/zod.js';
import {
  type FieldError,
  ForbiddenError,
  HttpProblemError,
  isTransientAwsError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors.js';
import { logger, metrics } from '../observability.js';
import type { RateLimiter } from '../store/rate-limiter.js';
import { type AuthContext, type Authorizer, TenantRefusalError } from './auth-context.js';
import { clientIpOf, establishClientIp } from './client-ip.js';
import { type AccessRefusal, isAuditedRefusal } from './refusals.js';
import {
  type Area,
  type BodyOf,
  matchSegments,
  type ParamsOf,
  pathSegments,
  type QueryOf,
  type RouteDef,
  type RouteKey,
} from './route.js';

/** Largest accepted request body (DESIGN.md §3). */
export const MAX_BODY_BYTES = 64 * 1024;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': 'accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  // Every API response may hold a secret or tenant data: never cache any of them.
  'Cache-Control': 'no-store',
};

/** What a route handler sees: validated input, the caller, and where the request came from. */
export interface ApiRequest<R extends RouteDef> {
  route: R;
  params: ParamsOf<R>;
  query: QueryOf<R>;
  body: BodyOf<R>;
  auth: AuthContext;
  sourceIp: string;
  userAgent: string;
  event: APIGatewayProxyEvent;
  context: Context;
}

/** What a route handler returns; `body` is JSON-encoded unless `rawBody` is given. */
export interface ApiResult {
  status: number;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type RouteHandler<R extends RouteDef> = (request: ApiRequest<R>) => Promise<ApiResult>;

/** A route with its implementation. */
export interface BoundRoute {
  route: RouteDef;
  handle: RouteHandler<RouteDef>;
}

/** Binds an implementation to a route definition with the route's schema types. */
export function implement<R extends RouteDef>(route: R, handle: RouteHandler<R>): BoundRoute {
  return { route, handle: handle as unknown as RouteHandler<RouteDef> };
}

/**
 * A group of routes whose definitions (their schemas) and implementations are a module of their own, loaded
 * with `await import()` by the group's first request: a cold start knows only their methods and paths.
 */
export interface RoutesLoadedOnUse {
  keys: readonly RouteKey[];
  load: () => Promise<readonly BoundRoute[]>;
}

/**
 * Declares a group of routes loaded on use (`RoutesLoadedOnUse`). The routes `load` answers must be exactly
 * `keys`: a request to the group fails with a 500, and the group is not used, if they are not.
 */
export function routesLoadedOnUse(
  keys: readonly RouteKey[],
  load: () => Promise<readonly BoundRoute[]>,
): RoutesLoadedOnUse {
  return { keys, load };
}

export interface ApiHandlerOptions {
  /** The function's runtime, for its settings (the origin secret); `functionRuntime()` when not given. */
  runtime?: FunctionRuntime;
  area: Area;
  /** This area's routes with their implementations, or groups of them loaded by their first request. */
  routes: (BoundRoute | RoutesLoadedOnUse)[];
  /**
   * Every route of the API (its method and path are all that is read), so a path served elsewhere answers
   * 404/405 correctly.
   */
  allRoutes: readonly RouteKey[];
  authorizer?: Authorizer;
  rateLimiter?: RateLimiter;
  /** Writes a verified member's refused request to the tenant's audit log (see `auditRefusalsTo`). */
  onRefused?: (refusal: AccessRefusal) => Promise<void>;
}

interface RequestState {
  bound?: BoundRoute;
  rawParams: Record<string, string>;
  parsedBody?: unknown;
  validated?: { params: unknown; query: unknown; body: unknown };
  auth: AuthContext;
}

// Per-request state shared by the middlewares and the final handler, keyed by the event object.
const requestStates = new WeakMap<APIGatewayProxyEvent, RequestState>();

function state(request: { event: APIGatewayProxyEvent }): RequestState {
  let s = requestStates.get(request.event);
  if (!s) {
    s = { rawParams: {}, auth: {} };
    requestStates.set(request.event, s);
  }
  return s;
}

/** RFC 9457 problem response; `requestId` is the id the request's log lines carry (`X-Request-Id`). */
export function problemResponse(error: HttpProblemError, requestId?: string): APIGatewayProxyResult {
  const body: Record<string, unknown> = {
    type: `https://strongroom.dev/problems/${error.type}`,
    title: error.title,
    status: error.status,
  };
  if (error.detail) body.detail = error.detail;
  if (error.errors) body.errors = error.errors;
  for (const [name, value] of Object.entries(error.extensions)) if (!(name in body)) body[name] = value;
  if (requestId) body.requestId = requestId;
  return {
    statusCode: error.status,
    headers: { 'Content-Type': 'application/problem+json', ...error.headers },
    body: JSON.stringify(body),
  };
}

/**
 * The request's id: API Gateway's (what its access log and the caller see), or the invocation's where no
 * gateway is in front. Only ids API Gateway or Lambda made are used, never a client's header.
 */
export function requestIdOf(event: APIGatewayProxyEvent, context?: Context): string | undefined {
  return [event.requestContext?.requestId, context?.awsRequestId].find(
    (id): id is string => typeof id === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(id),
  );
}

/**
 * Every response, errors included, carries `X-Request-Id`, and every log line of the request carries the
 * same `requestId` (after the logger's per-invocation keys are set), so a caller's report finds the logs.
 */
function requestIds(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> {
  const apply = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>) => {
    const id = requestIdOf(request.event, request.context);
    if (!request.response || !id) return;
    request.response.headers = { ...request.response.headers, 'X-Request-Id': id };
  };
  return {
    before: (request) => {
      const id = requestIdOf(request.event, request.context);
      if (id) logger.appendKeys({ requestId: id });
    },
    after: apply,
    onError: apply,
  };
}

/** Adds the security headers of DESIGN.md §3 to every response, errors included. */
export function securityHeaders(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const apply = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, ...SECURITY_HEADERS };
  };
  return { after: apply, onError: apply };
}

/** Counts responses by status class (so every invocation publishes a metric) and logs one line per request. */
function responseMetrics(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const count = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    const status = request.response?.statusCode ?? 500;
    metrics.addMetric(`Http${Math.floor(status / 100)}xx`, MetricUnit.Count, 1);
    // The route template, never the concrete path or query: those can carry ids and, by mistake, secrets.
    logger.info('request', {
      method: request.event.httpMethod,
      route: state(request).bound?.route.id ?? 'unmatched',
      status,
    });
  };
  return { after: count, onError: count };
}

/**
 * Maps errors to problem responses. Registered last so its onError runs first; anything that is not an
 * HttpProblemError becomes a 500 (or a 503 for AWS throttling and outages) without internals.
 */
export function problemErrorHandler(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      const error = request.error;
      let problem: HttpProblemError;
      if (error instanceof HttpProblemError) {
        problem = error;
        if (problem.status >= 500)
          logger.error('request failed', { status: problem.status, error: errorSummary(error) });
      } else if (isTransientAwsError(error)) {
        logger.warn('dependency unavailable', { error: errorSummary(error) });
        problem = new ServiceUnavailableError();
      } else {
        logger.error('unexpected error', { error: errorSummary(error) });
        problem = new HttpProblemError(500, 'internal-error', 'Internal Server Error', {
          detail: 'Something went wrong on our side; nothing about it is shown here.',
        });
      }
      request.response = problemResponse(problem, requestIdOf(request.event, request.context));
    },
  };
}

/** Name, message and stack of an error for the logs; never its properties (they may hold inputs). */
function errorSummary(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const cause =
      error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message } : undefined;
    return { name: error.name, message: error.message, stack: error.stack, cause };
  }
  return { type: typeof error };
}

/**
 * Every 403 given to a verified member of the path's tenant, by the authorizer or by the route, on a route
 * that changes something or reads the audit trail, is handed to `onRefused` (the tenant's audit log), unless
 * the code that refused already recorded it. A refusal stands if recording it fails.
 */
function refusalRecords(
  onRefused?: (refusal: AccessRefusal) => Promise<void>,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const error = request.error;
      if (!onRefused || !(error instanceof ForbiddenError) || error.audited) return;
      const s = state(request);
      const route = s.bound?.route;
      const access =
        error instanceof TenantRefusalError
          ? error.access
          : s.auth.tenant && s.auth.principal
            ? { scope: s.auth.tenant.scope, principal: s.auth.principal }
            : undefined;
      if (!route || !access || !isAuditedRefusal(route)) return;
      const target = Object.fromEntries(
        Object.entries((s.validated?.params ?? {}) as Record<string, unknown>).filter(
          (entry): entry is [string, string] => entry[0] !== 'tenantId' && typeof entry[1] === 'string',
        ),
      );
      const actor = auditActorOf({
        principal: access.principal,
        ip: sourceIpOf(request.event),
        userAgent: displayableHeader(header(request.event, 'user-agent') ?? '', USER_AGENT_MAX_LENGTH),
      });
      const reason = error instanceof TenantRefusalError ? error.reason : error.type;
      await onRefused({ ...access, route, actor, reason, target }).catch((failure: unknown) =>
        logger.error('could not record a refusal', {
          route: route.id,
          error: (failure as Error)?.name ?? typeof failure,
        }),
      );
    },
  };
}

function routeMatcher(
  options: ApiHandlerOptions,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const own = new Map<string, BoundRoute | RoutesLoadedOnUse>();
  for (const entry of options.routes) {
    const keys = 'keys' in entry ? entry.keys : [entry.route];
    for (const key of keys) own.set(`${key.method} ${key.path}`, entry);
  }
  const loadedGroups = new Map<RoutesLoadedOnUse, Promise<ReadonlyMap<string, BoundRoute>>>();
  const boundIn = async (group: RoutesLoadedOnUse, key: string) => {
    let loaded = loadedGroups.get(group);
    if (!loaded) {
      const routes = group.load();
      // A load that failed (a chunk that could not be read) is tried again by the group's next request; a
      // group that loaded other routes than it declared stays refused.
      routes.catch(() => loadedGroups.delete(group));
      loaded = routes.then((list) => routesOfGroup(group, list));
      loadedGroups.set(group, loaded);
    }
    return (await loaded).get(key)!;
  };
  // Each resource path split once, here (not at every comparison of the sort, nor for every route at every
  // request); most literal segments first, so `/me/sessions` wins over a `{param}` at the same depth.
  const all = options.allRoutes
    .map((route) => {
      const segments = pathSegments(route.path);
      return { route, segments, literals: segments.filter((seg) => !seg.startsWith('{')).length };
    })
    .sort((a, b) => b.literals - a.literals);
  return {
    before: async (request) => {
      const event = request.event;
      const method = event.httpMethod.toUpperCase();
      const path = event.path ?? '/';
      const got = pathSegments(path);
      const candidates = all.flatMap((r) => {
        const params = matchSegments(r.segments, got);
        return params ? [{ ...r, params }] : [];
      });
      if (candidates.length === 0) throw new NotFoundError(`No route for ${path}.`);
      const best = candidates[0]!.literals;
      const samePath = candidates.filter((r) => r.literals === best);
      // HEAD is GET without the body (RFC 9110 §9.3.2), where this function serves the GET.
      const match =
        samePath.find((r) => r.route.method === method) ??
        (method === 'HEAD'
          ? samePath.find((r) => r.route.method === 'GET' && own.has(`GET ${r.route.path}`))
          : undefined);
      if (!match) throw new MethodNotAllowedError(allowedMethods(samePath, own));
      const key = `${match.route.method} ${match.route.path}`;
      const entry = own.get(key);
      if (!entry) throw new NotFoundError(`No route for ${path}.`);
      const bound = 'keys' in entry ? await boundIn(entry, key) : entry;
      const s = state(request);
      s.bound = bound;
      s.rawParams = match.params;
    },
  };
}

/** A group's loaded routes by method and path; refused unless they are exactly the keys it declared. */
function routesOfGroup(
  group: RoutesLoadedOnUse,
  routes: readonly BoundRoute[],
): ReadonlyMap<string, BoundRoute> {
  const byKey = new Map(routes.map((b) => [`${b.route.method} ${b.route.path}`, b]));
  const declared = new Set(group.keys.map((k) => `${k.method} ${k.path}`));
  if (
    byKey.size !== routes.length ||
    byKey.size !== declared.size ||
    ![...declared].every((k) => byKey.has(k))
  )
    throw new Error(
      `a route group loaded ${[...byKey.keys()].join(', ')} but declared ${[...declared].join(', ')}`,
    );
  return byKey;
}

/** The methods a path answers: its routes', plus HEAD where this function serves its GET. */
function allowedMethods(
  matches: readonly { route: RouteKey }[],
  own: ReadonlyMap<string, unknown>,
): string[] {
  const methods = new Set<string>(matches.map(({ route }) => route.method));
  if (matches.some(({ route }) => route.method === 'GET' && own.has(`GET ${route.path}`)))
    methods.add('HEAD');
  return [...methods].sort();
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === lower && value !== undefined) return value;
  }
  return undefined;
}

/** Refuses bodies over the size limit before anything else reads them. */
function bodyLimit(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const body = request.event.body;
      if (body === null || body === undefined || body === '') return;
      const size = request.event.isBase64Encoded
        ? Buffer.from(body, 'base64').byteLength
        : Buffer.byteLength(body, 'utf8');
      if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
    },
  };
}

/** Parses JSON bodies (after authorization, so unauthenticated callers learn nothing from the body). */
function jsonBody(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const event = request.event;
      const s = state(request);
      if (event.body === null || event.body === undefined || event.body === '') return;
      if (!s.bound?.route.body) {
        throw new ValidationError([{ path: 'body', message: 'This route takes no request body' }]);
      }
      const contentType = header(event, 'content-type') ?? '';
      if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType.trim()))
        throw new UnsupportedMediaTypeError();
      const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
      try {
        s.parsedBody = JSON.parse(raw);
      } catch {
        throw new ValidationError(
          [{ path: 'body', message: 'Malformed JSON' }],
          'The request body is not valid JSON.',
        );
      }
    },
  };
}

/** Turns zod issues into `errors: [{path, message}]` with the request part as the first path segment. */
export function fieldErrors(part: string, error: z.core.$ZodError): FieldError[] {
  return issueErrors([part], error.issues);
}

function issueErrors(prefix: string[], issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.map(String)];
    // No alternative matched: report the one that came closest (fewest problems), so the answer names the
    // field that is wrong (`body.kmsKeyArn`) rather than the whole body.
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      if (closest.length > 0) return issueErrors(path, closest);
    }
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => ({
      path: [...path, ...(key === undefined ? [] : [key])].join('.'),
      message: issue.code === 'unrecognized_keys' ? 'Unknown field' : issue.message,
    }));
  });
}

const EMPTY = z.onFirstUse(() => z.strictObject({}));

/**
 * Validates one part of the request: first every string and key in it for characters no field may carry
 * (unpaired surrogates, controls, bidi overrides, zero-width characters: shared/domain/text.ts), so the rule
 * holds for every field of every route without each schema repeating it; then the route's zod schema.
 */
function check(
  part: string,
  schema: z.core.$ZodType | undefined,
  input: unknown,
  errors: FieldError[],
): unknown {
  const unsafe = findUnsafeText(input, part);
  if (unsafe.length > 0) {
    errors.push(...unsafe);
    return undefined;
  }
  const result = z.safeParse(schema ?? EMPTY(), input);
  if (result.success) return result.data;
  errors.push(...fieldErrors(part, result.error));
  return undefined;
}

/** Validates path parameters first: the authorizer needs a well-formed tenant id. */
function paramsValidation(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const s = state(request);
      const errors: FieldError[] = [];
      const params = check('params', s.bound!.route.params, s.rawParams, errors);
      if (errors.length > 0) throw new ValidationError(errors);
      s.validated = { params, query: undefined, body: undefined };
    },
  };
}

/** Validates query and body with the route's zod schemas; every problem is named by its path. */
function inputValidation(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const s = state(request);
      const route = s.bound!.route;
      const errors: FieldError[] = [];
      const query = check('query', route.query, request.event.queryStringParameters ?? {}, errors);
      let body: unknown;
      if (route.body) {
        if (s.parsedBody === undefined) errors.push({ path: 'body', message: 'A JSON body is required' });
        else body = check('body', route.body, s.parsedBody, errors);
      }
      if (errors.length > 0) throw new ValidationError(errors);
      s.validated = { params: s.validated!.params, query, body };
    },
  };
}

/**
 * The route's per-client rate limits (before authentication: they guard it). A client is an IPv4 address
 * or an IPv6 /64, and each IPv6 /48 is also held to IPV6_SITE_FACTOR times the limit.
 */
function rateLimits(limiter?: RateLimiter): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request) => {
      const rules = (state(request).bound!.route.rateLimits ?? []).filter((r) => (r.per ?? 'ip') === 'ip');
      if (!rules.length) return;
      if (!limiter) throw new Error('route declares rate limits but no rate limiter is configured');
      const ip = sourceIpOf(request.event);
      const site = ipv6SiteOf(ip);
      for (const rule of rules) {
        await limiter.consume(rule.name, clientKeyOf(ip), rule.limit, rule.windowSeconds);
        if (site) await limiter.consume(rule.name, site, rule.limit * IPV6_SITE_FACTOR, rule.windowSeconds);
      }
    },
  };
}

/**
 * The route's per-user, per-tenant and per-network rate limits, keyed on the verified caller, the tenant
 * and the caller's network (IPv4 /24, IPv6 /48) (after authorization, so nobody spends another's budget,
 * and an unauthenticated flood from a shared network cannot use up its members' budget; before the body, so malformed requests count too).
 */
function callerRateLimits(
  limiter?: RateLimiter,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request) => {
      const s = state(request);
      const rules = (s.bound!.route.rateLimits ?? []).filter(
        (r) => r.per === 'user' || r.per === 'tenant' || r.per === 'network',
      );
      if (!rules.length) return;
      if (!limiter) throw new Error('route declares rate limits but no rate limiter is configured');
      for (const rule of rules) {
        const key =
          rule.per === 'network'
            ? networkOf(sourceIpOf(request.event))
            : rule.per === 'user'
              ? s.auth.principal?.userId
              : s.auth.tenant?.scope.tenantId;
        if (!key) throw new Error(`route ${s.bound!.route.id} limits per ${rule.per} without one`);
        await limiter.consume(rule.name, key, rule.limit, rule.windowSeconds);
      }
    },
  };
}

function authorization(
  authorizer?: Authorizer,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request) => {
      const s = state(request);
      const route = s.bound!.route;
      if (route.auth.kind === 'none') return;
      if (!authorizer) throw new Error(`route ${route.id} needs an authorizer`);
      s.auth = await authorizer.authorize(
        request.event,
        route,
        s.validated!.params as Record<string, unknown>,
      );
    },
  };
}

/**
 * The caller's address: the connection's, or CloudFront's viewer address when the request proves it came
 * through our distribution (shared/http/client-ip.ts). Never a header a client can choose.
 */
export function sourceIpOf(event: APIGatewayProxyEvent): string {
  return clientIpOf(event);
}

/**
 * First of all: settles the caller's address and removes the origin secret from the event, before any
 * middleware can log the event. A request that carried the secret without a usable viewer address is a
 * misconfigured distribution (CloudFront always sends one): it is served as the connection's address, with
 * a warning and a metric.
 */
function clientAddress(
  originSecret: string | undefined,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const result = establishClientIp(request.event, originSecret);
      if (result.problem) {
        logger.warn('origin request without a usable viewer address', { problem: result.problem });
        metrics.addMetric('ViewerAddressUnusable', MetricUnit.Count, 1);
      }
    },
  };
}

function toResult(result: ApiResult): APIGatewayProxyResult {
  const headers: Record<string, string> = { ...result.headers };
  if (result.rawBody !== undefined) {
    headers['Content-Type'] = result.contentType ?? 'text/plain; charset=utf-8';
    return { statusCode: result.status, headers, body: result.rawBody };
  }
  if (result.body === undefined) return { statusCode: result.status, headers, body: '' };
  headers['Content-Type'] = result.contentType ?? 'application/json';
  return { statusCode: result.status, headers, body: JSON.stringify(result.body) };
}

/**
 * The one middy stack every API function uses: observability, route matching, size limit, path
 * parameters, per-IP rate limits, authorization (so 401/403/404 never depend on the body), per-user and
 * per-tenant rate limits, JSON and zod validation of query and body, then the route's implementation;
 * problem mapping registered last.
 */
export function createApiHandler(options: ApiHandlerOptions) {
  const runtime = options.runtime ?? functionRuntime();
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(clientAddress(runtime.optional('originVerifySecret')))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(requestIds())
    .use(tracingMiddlewares())
    .use(logMetrics(metrics))
    .use(responseMetrics())
    .use(securityHeaders())
    .use(routeMatcher(options))
    .use(bodyLimit())
    .use(paramsValidation())
    .use(rateLimits(options.rateLimiter))
    .use(authorization(options.authorizer))
    .use(callerRateLimits(options.rateLimiter))
    .use(jsonBody())
    .use(inputValidation())
    .use(refusalRecords(options.onRefused))
    .use(problemErrorHandler())
    .handler(async (event, context) => {
      const s = requestStates.get(event);
      if (!s?.bound || !s.validated) throw new Error('route state missing');
      const result = await s.bound.handle({
        route: s.bound.route,
        params: s.validated.params as never,
        query: s.validated.query as never,
        body: s.validated.body as never,
        auth: s.auth,
        sourceIp: sourceIpOf(event),
        userAgent: displayableHeader(header(event, 'user-agent') ?? '', USER_AGENT_MAX_LENGTH),
        event,
        context,
      });
      const response = toResult(result);
      return event.httpMethod.toUpperCase() === 'HEAD' ? { ...response, body: '' } : response;
    });
}
