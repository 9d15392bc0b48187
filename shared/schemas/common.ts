import { DATA_SOURCE_FAILURES } from '../domain/data-source-failures.js';
import type { Permission } from '../domain/permissions.js';
import * as z from '../domain/zod.js';
import { defineRoute, type RouteDef } from '../http/route.js';

/** RFC 9457 problem document as the API returns it. */
export const Problem = z.onFirstUse(() =>
  z
    .object({
      type: z.string(),
      title: z.string(),
      status: z.number().check(z.int()),
      detail: z.optional(z.string()),
      errors: z.optional(z.array(z.object({ path: z.string(), message: z.string() }))),
      /** The request's id, also in the `X-Request-Id` header and on every log line of the request. */
      requestId: z.optional(z.string()),
      /** A data source that failed (502): the class of failure, never its secrets. */
      failure: z.optional(z.enum(DATA_SOURCE_FAILURES)),
    })
    .check(z.meta({ id: 'Problem' })),
);

/** Tenant ids are server-generated: `t_` and 26 Crockford base32 characters. */
export const TenantId = z.onFirstUse(() =>
  z.string().check(z.regex(/^t_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a tenant id')),
);
/** User ids: `u_` and 26 Crockford base32 characters. */
export const UserId = z.onFirstUse(() =>
  z.string().check(z.regex(/^u_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a user id')),
);
/**
 * Connection ids: `c_` and 26 Crockford base32 characters. Here, not in ./connections.ts, because the query
 * routes take one too: importing it from there put every connection route into the query function's cold start.
 */
export const ConnectionId = z.onFirstUse(() =>
  z.string().check(z.regex(/^c_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a connection id')),
);

/**
 * An address mail can be sent to: a local part of at most 64 characters (RFC 5321) made of dot-separated
 * atoms (no leading, trailing or doubled dot; the characters zod's e-mail rule allows), and a domain of DNS
 * labels (1–63 letters, digits and inner hyphens; RFC 1035) under an alphabetic top-level label; 253
 * characters in all at most (what the SMTP server of local mode takes; RFC 5321 allows 254). Looser addresses (a label ending in a hyphen) pass zod's
 * default rule but every mail server refuses them, which used to answer 503 "try again" for an address that
 * can never work (found by the OpenAPI fuzzer).
 */
export const EmailAddress = z.onFirstUse(() =>
  z.string().check(
    z.trim(),
    z.maxLength(253),
    z.email({
      pattern:
        /^[A-Za-z0-9_'+-]+(?:\.[A-Za-z0-9_'+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/,
      error: 'Not an e-mail address',
    }),
    z.refine((address) => address.indexOf('@') <= 64, { error: 'Not an e-mail address' }),
  ),
);

/** Opaque pagination cursor, bounded so it cannot be used to smuggle large payloads. */
export const Cursor = z.onFirstUse(() => z.string().check(z.minLength(1), z.maxLength(2048)));
/** `limit` query parameter: 1–100, default 50. */
export const Limit = z.onFirstUse(() =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50),
);

export const PageQuery = z.onFirstUse(() => z.strictObject({ cursor: z.optional(Cursor()), limit: Limit() }));

export const TenantParams = z.onFirstUse(() => z.strictObject({ tenantId: TenantId() }));

/** A page of `item`s; `nextCursor` goes back as `cursor` for the next page and is null on the last one. */
export const pageOf = <T extends z.core.$ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.nullable(z.string()) });

/** What a paged list of a tenant's items says of its own. */
export interface TenantListRoute<T extends z.core.$ZodType>
  extends Pick<RouteDef, 'id' | 'path' | 'area' | 'summary' | 'tags'> {
  permission: Permission;
  /** The response's description: what a page holds. */
  description: string;
  /** The item schema, or one built on first use (`z.onFirstUse`), read when the response schema is. */
  item: T | (() => T);
}

/** A paged GET of a tenant's items (`cursor`, `limit`), answering a page of `item`s. */
export function defineTenantListRoute<T extends z.core.$ZodType>({
  permission,
  description,
  item,
  ...route
}: TenantListRoute<T>) {
  return defineRoute({
    ...route,
    method: 'GET',
    auth: { kind: 'tenant', permission },
    get params() {
      return TenantParams();
    },
    get query() {
      return PageQuery();
    },
    response: {
      status: 200,
      description,
      get schema() {
        return pageOf(typeof item === 'function' ? item() : item);
      },
    },
  });
}
