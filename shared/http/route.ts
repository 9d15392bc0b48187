import type { Permission } from '../domain/permissions.js';
import type * as z from '../domain/zod.js';

/** API areas: one Lambda function each, with only that area's IAM (DESIGN.md §5). */
export const AREAS = ['public', 'auth', 'tenants', 'storage', 'connections', 'query', 'audit'] as const;
export type Area = (typeof AREAS)[number];

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** Who may call a route. Tenant routes name the permission from the single table in shared/domain. */
export type AuthRequirement =
  | { kind: 'none' }
  /** A signed-in user's session; API keys are refused. */
  | { kind: 'session' }
  /** A session or an API key, no tenant. */
  | { kind: 'principal' }
  /** A member of the path's tenant holding `permission` (sessions and API keys unless `sessionOnly`). */
  | { kind: 'tenant'; permission: Permission; sessionOnly?: boolean };

export interface RateLimitRule {
  /** Counter name, unique across routes. */
  name: string;
  limit: number;
  windowSeconds: number;
  /**
   * Whose budget the rule counts: the client (IPv4 address, IPv6 /64; checked before anything else), or
   * the signed-in user, the path's tenant or the caller's network (IPv4 /24, IPv6 /48) (these three checked
   * right after authorization, before the body is read).
   * @default 'ip'
   */
  per?: 'ip' | 'network' | 'user' | 'tenant';
}

export interface ResponseDef {
  status: number;
  description: string;
  schema?: z.core.$ZodType;
  contentType?: string;
}

/** A route of the public API. The list of these feeds API Gateway, the local server and OpenAPI. */
export interface RouteDef<
  P extends z.core.$ZodType = z.core.$ZodType,
  Q extends z.core.$ZodType = z.core.$ZodType,
  B extends z.core.$ZodType = z.core.$ZodType,
> {
  id: string;
  method: HttpMethod;
  /** API Gateway resource path, e.g. `/v1/tenants/{tenantId}`. */
  path: string;
  area: Area;
  summary: string;
  tags: string[];
  auth: AuthRequirement;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * Rate limits, sliding windows: per client (IPv4 address, IPv6 /64) before authorization, per user or
   * tenant right after it.
   */
  rateLimits?: RateLimitRule[];
  response: ResponseDef;
}

/**
 * Keeps the schema types of a route literal, and builds its schemas on first use: a route's `params`,
 * `query`, `body` and `response.schema` may be getters (`get body() { return z.strictObject(…); }`), each
 * run once, on first read, its schema kept from then on. A function's cold start then builds no schema at
 * all (zod's schema construction was most of the API functions' init CPU); a request builds its own
 * route's, and the OpenAPI document every route's.
 */
export function defineRoute<P extends z.core.$ZodType, Q extends z.core.$ZodType, B extends z.core.$ZodType>(
  route: RouteDef<P, Q, B>,
): RouteDef<P, Q, B> {
  buildOnFirstRead(route, ['params', 'query', 'body']);
  buildOnFirstRead(route.response, ['schema']);
  return route;
}

/** Replaces each getter among `keys` of `target` with one that runs it once and keeps its value. */
function buildOnFirstRead(target: object, keys: readonly string[]): void {
  for (const key of keys) {
    const build = Object.getOwnPropertyDescriptor(target, key)?.get;
    if (!build) continue;
    Object.defineProperty(target, key, {
      enumerable: true,
      configurable: true,
      get() {
        const value: unknown = build.call(target);
        Object.defineProperty(target, key, { value, enumerable: true, configurable: false, writable: false });
        return value;
      },
    });
  }
}

/** What tells routes apart: method and resource path (shared/schemas/route-table.ts lists every route's). */
export type RouteKey = Pick<RouteDef, 'method' | 'path'>;

export type ParamsOf<R> = R extends RouteDef<infer P, z.core.$ZodType, z.core.$ZodType> ? z.output<P> : never;
export type QueryOf<R> = R extends RouteDef<z.core.$ZodType, infer Q, z.core.$ZodType> ? z.output<Q> : never;
export type BodyOf<R> = R extends RouteDef<z.core.$ZodType, z.core.$ZodType, infer B> ? z.output<B> : never;

/** Splits a resource path into literal and `{param}` segments. */
export function pathSegments(path: string): string[] {
  return path.split('/').filter(Boolean);
}

/** Matches a concrete path against a resource path; returns the raw path parameters or undefined. */
export function matchPath(resourcePath: string, actual: string): Record<string, string> | undefined {
  return matchSegments(pathSegments(resourcePath), pathSegments(actual));
}

/**
 * `matchPath` on paths already split by `pathSegments`: a router splits each resource path once, when it is
 * made, and each request's path once.
 */
export function matchSegments(
  want: readonly string[],
  got: readonly string[],
): Record<string, string> | undefined {
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith('{') && w.endsWith('}')) {
      let value: string;
      try {
        value = decodeURIComponent(g);
      } catch {
        return undefined;
      }
      params[w.slice(1, -1)] = value;
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}
