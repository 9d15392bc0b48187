import * as z from 'zod';
import { DATA_SOURCE_FAILURES } from '../domain/data-source-failures.js';

/** RFC 9457 problem document as the API returns it. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** The request's id, also in the `X-Request-Id` header and on every log line of the request. */
    requestId: z.string().optional(),
    /** A data source that failed (502): the class of failure, never its secrets. */
    failure: z.enum(DATA_SOURCE_FAILURES).optional(),
  })
  .meta({ id: 'Problem' });

/** Tenant ids are server-generated: `t_` and 26 Crockford base32 characters. */
export const TenantId = z.string().regex(/^t_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a tenant id');
/** User ids: `u_` and 26 Crockford base32 characters. */
export const UserId = z.string().regex(/^u_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a user id');

/** Opaque pagination cursor, bounded so it cannot be used to smuggle large payloads. */
export const Cursor = z.string().min(1).max(2048);
/** `limit` query parameter: 1–100, default 50. */
export const Limit = z.coerce.number().int().min(1).max(100).default(50);

export const PageQuery = z.strictObject({ cursor: Cursor.optional(), limit: Limit });

export const TenantParams = z.strictObject({ tenantId: TenantId });
