import { createHash } from 'node:crypto';
import type { Plan } from './plans.js';

/**
 * The audit hash chain, pure: canonical JSON, chain hashes, the sequencing step and verification.
 * The store (shared/store/audit-store.ts, audit-sequencer.ts) does the I/O around these functions.
 *
 * Layout of one log's partition in the audit table (pk = tenant id, or `platform`):
 *   EVENT#<ulid>        the event, written once by the request path (conditional Put)
 *   MARK#<ulid>         "this event is chained at sequence n", written once by the sequencer
 *   CHAIN#<seq:012>     chain record {eventId, prevHash, hash, ...}, written once by the sequencer
 *   HEAD                the log's head {seq, hash, watermark}, moved by the sequencer with a conditional Put
 */

/** prevHash of sequence 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** Days an audit event is kept, by the tenant's plan (DESIGN.md §4). */
export const RETENTION_DAYS: Readonly<Record<Plan, number>> = { free: 30, team: 90, enterprise: 365 };

/** The platform log (sign-ins, MFA, sessions) is kept as long as the longest plan. */
export const PLATFORM_RETENTION_DAYS = 365;

/**
 * Chain records outlive the longest event retention by a margin, so that a chain whose events expired is
 * still a continuous chain of hashes, and chain-record TTLs grow with the sequence number (see `verify`).
 */
export const CHAIN_RETENTION_DAYS = 395;

const DAY_SECONDS = 86_400;

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

/** SHA-256 (lower-case hex) of `prevHash ‖ canonicalJson(event)`, both as UTF-8. */
export function chainHash(prevHash: string, event: unknown): string {
  if (!/^[0-9a-f]{64}$/.test(prevHash)) throw new CanonicalJsonError('prevHash is not a SHA-256 hex digest');
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(event), 'utf8').digest('hex');
}

/** The part of a stored event item the chain covers: every attribute except the table's keys. */
export function chainedContent(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, ...content } = item;
  return content;
}

// ---------------------------------------------------------------------------------------------------------
// Keys and ULID time

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const ULID = /^[0-9a-hjkmnp-tv-z]{26}$/;

export const EVENT_PREFIX = 'EVENT#';
export const MARK_PREFIX = 'MARK#';
export const CHAIN_PREFIX = 'CHAIN#';
export const HEAD_SK = 'HEAD';
/** Partition listing every log the sequencer has started (the daily job walks it instead of scanning). */
export const LOG_REGISTRY_PK = 'registry#audit-logs';
const SEQ_DIGITS = 12;

/** Whether a string is a lower-case ULID. */
export function isUlid(value: string): boolean {
  return ULID.test(value);
}

/** Milliseconds since the epoch encoded in a ULID's first ten characters. */
export function ulidTimeMs(ulid: string): number {
  if (!isUlid(ulid)) throw new RangeError('not a ULID');
  let ms = 0;
  for (const ch of ulid.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(ch);
  return ms;
}

function encodeTime(ms: number): string {
  let out = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** The smallest ULID of a millisecond (a lower bound for key ranges). */
export function ulidFloor(ms: number): string {
  return encodeTime(ms) + '0'.repeat(16);
}

/** The largest ULID of a millisecond (an upper bound for key ranges). */
export function ulidCeil(ms: number): string {
  return encodeTime(ms) + 'z'.repeat(16);
}

/** Audit event ids are `e_<ulid>`; the ULID orders them in the table. */
export function eventUlid(eventId: string): string {
  const ulid = eventId.startsWith('e_') ? eventId.slice(2) : '';
  if (!isUlid(ulid)) throw new RangeError('not an audit event id');
  return ulid;
}

export const eventSk = (ulid: string) => `${EVENT_PREFIX}${ulid}`;
export const markSk = (ulid: string) => `${MARK_PREFIX}${ulid}`;
export const chainSk = (seq: number) => `${CHAIN_PREFIX}${String(seq).padStart(SEQ_DIGITS, '0')}`;

/** The sequence number in a chain record's sort key, or undefined when the key is malformed. */
export function seqOfChainSk(sk: string): number | undefined {
  const digits = sk.slice(CHAIN_PREFIX.length);
  if (!sk.startsWith(CHAIN_PREFIX) || !/^\d{12}$/.test(digits)) return undefined;
  return Number(digits);
}

// ---------------------------------------------------------------------------------------------------------
// Sequencing

/** A log's head: the last chained sequence, its hash, and the newest event id chained so far. */
export interface ChainHead {
  seq: number;
  hash: string;
  /** Largest event ULID chained so far; pending events are looked for from a grace window before it. */
  watermark: string;
  /** Time the head moved (ms); never goes backwards, so chain-record TTLs grow with the sequence. */
  chainedAtMs: number;
  /** TTL of the chain record at `seq` (0 for an empty log). */
  lastTtl: number;
}

/** An immutable chain record. */
export interface ChainRecord {
  seq: number;
  eventId: string;
  prevHash: string;
  hash: string;
  /** TTL of the chained event: once past, the event may be gone without that being a break. */
  eventTtl: number;
  /** TTL of the chain record before this one: once past, the records before may be gone. */
  prevTtl: number;
  /** This record's own TTL. */
  ttl: number;
  chainedAtMs: number;
}

/** A stored event item as read back (pk/sk included); `id` and `ttl` are required. */
export interface StoredEventItem extends Record<string, unknown> {
  id: string;
  ttl: number;
}

export const EMPTY_HEAD: ChainHead = {
  seq: 0,
  hash: GENESIS_HASH,
  watermark: '',
  chainedAtMs: 0,
  lastTtl: 0,
};

/**
 * One sequencing step: the chain records for `events` (already sorted in integration order and not yet
 * chained) appended after `head`, and the head that results. Pure: the caller writes it all in one
 * transaction, conditional on the head it read.
 */
export function appendToChain(
  head: ChainHead,
  events: readonly StoredEventItem[],
  nowMs: number,
): { records: ChainRecord[]; head: ChainHead } {
  const chainedAtMs = Math.max(nowMs, head.chainedAtMs);
  const ttl = ttlFor(chainedAtMs, CHAIN_RETENTION_DAYS);
  const records: ChainRecord[] = [];
  let { seq, hash, watermark, lastTtl } = head;
  for (const event of events) {
    const ulid = eventUlid(event.id);
    const record: ChainRecord = {
      seq: seq + 1,
      eventId: event.id,
      prevHash: hash,
      hash: chainHash(hash, chainedContent(event)),
      eventTtl: event.ttl,
      prevTtl: lastTtl,
      ttl,
      chainedAtMs,
    };
    records.push(record);
    seq = record.seq;
    hash = record.hash;
    lastTtl = ttl;
    if (ulid > watermark) watermark = ulid;
  }
  return { records, head: { seq, hash, watermark, chainedAtMs, lastTtl } };
}

/**
 * Where to look for pending events: `graceMs` before the watermark, because an event may commit after
 * events with newer ids were chained (its id is taken when the writer builds it, not when it commits).
 */
export function pendingWindowStart(head: ChainHead, graceMs: number): string {
  if (!head.watermark) return '';
  return ulidFloor(ulidTimeMs(head.watermark) - graceMs);
}

/** Ids in `events` (ascending) that have no marker in `marked`, in order: the pending events. */
export function unmarked(events: readonly string[], marked: ReadonlySet<string>): string[] {
  return events.filter((id) => !marked.has(id));
}

// ---------------------------------------------------------------------------------------------------------
// Verification

export type BreakReason =
  | 'missing-chain-record'
  | 'bad-sequence'
  | 'broken-link'
  | 'missing-event'
  | 'wrong-event'
  | 'hash-mismatch'
  | 'duplicate-event'
  | 'head-mismatch';

export interface VerifyOutcome {
  ok: boolean;
  /** Chain records checked (expired ones are not counted). */
  checked: number;
  firstBrokenSequence?: number;
  reason?: BreakReason;
}

/** What the verifier is given for one chain record: the record as stored and its event, if found. */
export interface ChainEntry {
  /** Sequence from the record's sort key. */
  seq: number;
  /** The record's attributes (untrusted: they may have been edited). */
  record: Partial<ChainRecord>;
  event: StoredEventItem | undefined;
}

/**
 * Walks one log's chain records in ascending sort-key order (pages at a time, constant memory apart from
 * the set of seen event ids) and reports the first break. Expired items are skipped: TTL deletion lags
 * (days on AWS, forever in the emulator) and may remove any expired item in any order.
 */
export class ChainVerifier {
  readonly #logId: string;
  readonly #nowSeconds: number;
  #checked = 0;
  #last: { seq: number; hash: string } | undefined;
  #broken: { seq: number; reason: BreakReason } | undefined;
  readonly #seen = new Set<string>();

  constructor(logId: string, nowMs: number) {
    this.#logId = logId;
    this.#nowSeconds = Math.floor(nowMs / 1000);
  }

  /** Whether a break was found (further entries are ignored). */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /** Checks the next chain record. */
  push(entry: ChainEntry): void {
    if (this.#broken) return;
    const { seq, record } = entry;
    if (typeof record.ttl === 'number' && record.ttl <= this.#nowSeconds) return;
    const broken = this.#check(entry);
    if (broken) {
      this.#broken = broken;
      return;
    }
    this.#checked++;
    this.#last = { seq, hash: record.hash as string };
  }

  #check({ seq, record, event }: ChainEntry): { seq: number; reason: BreakReason } | undefined {
    const fail = (at: number, reason: BreakReason) => ({ seq: at, reason });
    if (record.seq !== seq) return fail(seq, 'bad-sequence');
    if (typeof record.prevHash !== 'string' || typeof record.hash !== 'string')
      return fail(seq, 'broken-link');
    if (this.#last === undefined) {
      // The first live record: everything before it must have expired, which its prevTtl vouches for
      // (chain-record TTLs never decrease along the chain).
      if (seq !== 1 && !(typeof record.prevTtl === 'number' && record.prevTtl <= this.#nowSeconds))
        return fail(seq - 1, 'missing-chain-record');
      if (seq === 1 && record.prevHash !== GENESIS_HASH) return fail(seq, 'broken-link');
    } else {
      if (seq !== this.#last.seq + 1) return fail(this.#last.seq + 1, 'missing-chain-record');
      if (record.prevHash !== this.#last.hash) return fail(seq, 'broken-link');
    }
    if (typeof record.eventId !== 'string') return fail(seq, 'wrong-event');
    if (this.#seen.has(record.eventId)) return fail(seq, 'duplicate-event');
    this.#seen.add(record.eventId);
    if (!event) {
      const expired = typeof record.eventTtl === 'number' && record.eventTtl <= this.#nowSeconds;
      return expired ? undefined : fail(seq, 'missing-event');
    }
    if (event.id !== record.eventId || event.logId !== this.#logId) return fail(seq, 'wrong-event');
    let hash: string;
    try {
      hash = chainHash(record.prevHash, chainedContent(event));
    } catch {
      return fail(seq, 'hash-mismatch');
    }
    if (hash !== record.hash || event.ttl !== record.eventTtl) return fail(seq, 'hash-mismatch');
    return undefined;
  }

  /** The outcome, checking that the head points at the last record. */
  finish(head: ChainHead | undefined): VerifyOutcome {
    const result = (broken?: { seq: number; reason: BreakReason }): VerifyOutcome =>
      broken
        ? { ok: false, checked: this.#checked, firstBrokenSequence: broken.seq, reason: broken.reason }
        : { ok: true, checked: this.#checked };
    if (this.#broken) return result(this.#broken);
    const headSeq = head?.seq ?? 0;
    if (this.#last === undefined) {
      // No live record: fine for an empty log, or when the head's own record has expired.
      if (headSeq === 0 || (head && head.lastTtl <= this.#nowSeconds)) return result();
      return result({ seq: headSeq, reason: 'missing-chain-record' });
    }
    if (this.#last.seq < headSeq) return result({ seq: this.#last.seq + 1, reason: 'missing-chain-record' });
    if (this.#last.seq > headSeq) return result({ seq: headSeq + 1, reason: 'head-mismatch' });
    if (head!.hash !== this.#last.hash) return result({ seq: headSeq, reason: 'head-mismatch' });
    return result();
  }
}
