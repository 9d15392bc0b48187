import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A time-ordered unique id (ULID layout, lower-case Crockford base32): 48 bits of milliseconds then
 * 80 random bits, so ids sort by creation time.
 */
export function ulid(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let random = '';
  for (let i = 0; i < 16; i++) {
    random = CROCKFORD[Number(bits & 31n)] + random;
    bits >>= 5n;
  }
  return time + random;
}

export type IdPrefix = 't' | 'u' | 's' | 'k' | 'm' | 'i' | 'l' | 'c' | 'e' | 'x' | 'r' | 'n' | 'p';

/** A prefixed id such as `t_01j…` for tenants or `u_01j…` for users. */
export function newId(prefix: IdPrefix, now?: number): string {
  return `${prefix}_${ulid(now)}`;
}

/** Characters of a vend id after `v_`: with tenant and actor ids it fills a 64-character STS session name. */
export const VEND_ID_LENGTH = 9;

/**
 * The id of one vend (`v_` and 45 random bits): in the vend's response, its audit event and its STS session
 * name, so a CloudTrail S3 data event leads to the audit log and back.
 */
export function newVendId(): string {
  const bytes = randomBytes(VEND_ID_LENGTH);
  let id = '';
  for (const byte of bytes) id += CROCKFORD[byte & 31];
  return `v_${id}`;
}
