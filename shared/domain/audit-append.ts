import type { Plan } from './plans.js';

/**
 * What appending an audit event needs, and nothing of the chain (audit-chain.ts, which re-exports these):
 * retention and TTL, the canonical JSON the chain hashes (an event that cannot be put in canonical form is
 * refused when it is written), and the event's sort key. Every API function appends events; only the audit
 * function, the sequencer and the daily job load the chain.
 */

/** Days an audit event is kept, by the tenant's plan (DESIGN.md §4). */
export const RETENTION_DAYS: Readonly<Record<Plan, number>> = { free: 30, team: 90, enterprise: 365 };

/** The platform log (sign-ins, MFA, sessions) is kept as long as the longest plan. */
export const PLATFORM_RETENTION_DAYS = 365;

/** Seconds in a day (TTLs and chain expiry are epoch seconds). */
export const DAY_SECONDS = 86_400;

/** The TTL attribute (epoch seconds) of an event written at `nowMs` for a log kept `retentionDays`. */
export function ttlFor(nowMs: number, retentionDays: number): number {
  return Math.floor(nowMs / 1000) + retentionDays * DAY_SECONDS;
}

/** Retention of a tenant's events; an unknown plan keeps the longest, since a TTL cannot be extended later. */
export function retentionDaysFor(plan: Plan | undefined): number {
  return plan ? RETENTION_DAYS[plan] : RETENTION_DAYS.enterprise;
}

// ---------------------------------------------------------------------------------------------------------
// Canonical JSON

/** Thrown when a value cannot be put in canonical form (and so cannot be an audit event). */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

const MAX_DEPTH = 16;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Canonical JSON of a value, the bytes the chain hashes. The rules (those of RFC 8785 JCS, narrowed to
 * what survives a DynamoDB round trip unchanged):
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort), members whose value is
 *   `undefined` omitted (DynamoDB drops them too), no whitespace anywhere;
 * - strings: JSON.stringify escaping (`"` `\` and U+0000–U+001F escaped, everything else literal); a
 *   string holding a lone surrogate is refused, because DynamoDB's UTF-8 would silently replace it;
 * - numbers: finite and within ±(2^53−1) only (the AWS SDK refuses to store or read back anything larger
 *   as a JavaScript number), ECMAScript shortest round-trip form (`1`, `0.1`, `1.5e-7`), `-0` written `0`;
 * - `true`, `false`, `null`; arrays keep their order (an `undefined` element is refused);
 * - anything else (Date, BigInt, Map, Set, functions, class instances) and nesting deeper than 16 levels
 *   are refused with CanonicalJsonError.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0, '$');
}

function encode(value: unknown, depth: number, path: string): string {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError(`${path}: nested deeper than ${MAX_DEPTH} levels`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(`${path}: string has a lone surrogate`);
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: number is not finite`);
      if (Math.abs(value) > Number.MAX_SAFE_INTEGER)
        throw new CanonicalJsonError(`${path}: number beyond 2^53-1; send it as a string`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value
          .map((item, i) => {
            if (item === undefined) throw new CanonicalJsonError(`${path}[${i}]: undefined array element`);
            return encode(item, depth + 1, `${path}[${i}]`);
          })
          .join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null)
        throw new CanonicalJsonError(`${path}: only plain objects are allowed`);
      const entries = Object.keys(value as object)
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .sort();
      return `{${entries
        .map((key) => {
          if (LONE_SURROGATE.test(key)) throw new CanonicalJsonError(`${path}: key has a lone surrogate`);
          return `${JSON.stringify(key)}:${encode((value as Record<string, unknown>)[key], depth + 1, `${path}.${key}`)}`;
        })
        .join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} cannot be encoded`);
  }
}

/** Replaces lone surrogates with U+FFFD everywhere in a JSON-like value, so it survives storage unchanged. */
export function wellFormed<T>(value: T): T {
  if (typeof value === 'string') return value.replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD') as T;
  if (Array.isArray(value)) return value.map((item) => wellFormed(item)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[wellFormed(key)] = wellFormed(item);
    return out as T;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// The event's key

export const EVENT_PREFIX = 'EVENT#';

/** An event's sort key: its ULID after the prefix. */
export const eventSk = (ulid: string) => `${EVENT_PREFIX}${ulid}`;

/** The event id an event's sort key stands for; undefined for any other item of a log. */
export function eventIdOfSk(sk: string): string | undefined {
  return sk.startsWith(EVENT_PREFIX) ? `e_${sk.slice(EVENT_PREFIX.length)}` : undefined;
}
