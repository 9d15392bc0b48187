import { createHash } from 'node:crypto';
import { CanonicalJsonError, canonicalJson, DAY_SECONDS } from './audit-append.js';

/**
 * The audit hash chain, pure: canonical JSON, chain hashes, the sequencing step, the statements the
 * sequencer and the daily job authenticate (MAC'd with a KMS key, outside this module), and verification.
 * The store (shared/store/audit-store.ts, audit-sequencer.ts, audit-verification.ts) does the I/O.
 *
 * Events live in the audit table, everything else in the audit chain table, which no runtime role can write:
 *   audit table        EVENT#<ulid>        the event, written once by the request path (conditional Put)
 *   audit chain table  CHAIN#<seq:012>     chain record, written once by the sequencer
 *                      MARK#<ulid>         "this event is chained at sequence n" (the sequencer's index)
 *                      HEAD                the latest head statement and its MAC, moved by conditional Put
 *                      CHECKPOINT#<day>    the daily job's checkpoint statement and its MAC
 *
 * What the verifier trusts, and why:
 * - A chain record's hash covers every field the verifier uses: its sequence, log, event id, the digest of
 *   the event's content, when it was chained, when it and its event expire, when the record before it
 *   expires, and the previous hash. Expiry is never read from DynamoDB's `ttl` attribute (which exists only
 *   so that DynamoDB deletes the item) but from these hashed fields.
 * - Hashes alone prove nothing to someone who can recompute them. Each sequencing batch ends in a head
 *   statement (the batch's record hashes, the head's hash, the running maximum of event expiry, ...) that
 *   the sequencer MACs with a key no runtime role can use; its copy rides on the batch's last record (the
 *   seal). A walk whose last record matches an authentic head proves every record before it (back to an
 *   authentic start); when it does not, the seals locate the first record that differs.
 * - The daily job MACs a checkpoint of each head: a later head must still contain it (no rollback, no
 *   rewrite), and an old enough checkpoint is where verification starts once everything before it expired.
 */

// What appending an event needs lives in audit-append.ts (so that a function that only appends does not load
// the chain's verification); it is re-exported here for the chain's readers.
export {
  CanonicalJsonError,
  canonicalJson,
  EVENT_PREFIX,
  eventIdOfSk,
  eventSk,
  PLATFORM_RETENTION_DAYS,
  RETENTION_DAYS,
  retentionDaysFor,
  ttlFor,
  wellFormed,
} from './audit-append.js';

/** prevHash of sequence 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** No event is required to outlive its chaining by more than this (the longest retention). */
export const MAX_EVENT_RETENTION_DAYS = 365;

/**
 * Chain records outlive the longest event retention by a margin, so that a record is always there while its
 * event may be, and records expire in sequence order (their expiry grows with the chained time).
 */
export const CHAIN_RETENTION_DAYS = 395;

/** Checkpoints outlive the chain records they vouch for. */
export const CHECKPOINT_RETENTION_DAYS = 400;

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

export const MARK_PREFIX = 'MARK#';
export const CHAIN_PREFIX = 'CHAIN#';
export const HEAD_SK = 'HEAD';
export const CHECKPOINT_PREFIX = 'CHECKPOINT#';
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

export const markSk = (ulid: string) => `${MARK_PREFIX}${ulid}`;
export const chainSk = (seq: number) => `${CHAIN_PREFIX}${String(seq).padStart(SEQ_DIGITS, '0')}`;
/** Checkpoints are keyed by UTC day (`YYYY-MM-DD`): at most one per log and day. */
export const checkpointSk = (day: string) => `${CHECKPOINT_PREFIX}${day}`;

/** The sequence number in a chain record's sort key, or undefined when the key is malformed. */
export function seqOfChainSk(sk: string): number | undefined {
  const digits = sk.slice(CHAIN_PREFIX.length);
  if (!sk.startsWith(CHAIN_PREFIX) || !/^\d{12}$/.test(digits)) return undefined;
  return Number(digits);
}

/** The UTC day (`YYYY-MM-DD`) of an instant: a checkpoint's key. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------------------
// Chain records, heads and the statements the sequencer and the daily job authenticate

/** Version of the record and statement formats (a verifier refuses any other). */
export const CHAIN_FORMAT = 1;

const HEX64 = /^[0-9a-f]{64}$/;
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** SHA-256 (hex) of an event's chained content (every attribute but the keys): what its record commits to. */
export function eventDigest(item: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson(chainedContent(item)), 'utf8')
    .digest('hex');
}

/** Everything a chain record's hash covers besides the previous hash. Times in epoch seconds unless `Ms`. */
export interface ChainRecordContent {
  v: number;
  logId: string;
  seq: number;
  eventId: string;
  eventDigest: string;
  /** Until when the event must exist (its own TTL, never beyond chaining + the longest retention). */
  eventExpiresAt: number;
  chainedAtMs: number;
  /** Until when this record must exist (chaining + CHAIN_RETENTION_DAYS). */
  expiresAt: number;
  /** `expiresAt` of the record before: once past, every record before this one may be gone. */
  prevExpiresAt: number;
  /**
   * First sequence of this record's batch, and `expiresAt` of the record before that batch. A batch's
   * records share one chaining time and so one expiry: where expired records end and retained ones begin
   * is always a batch boundary, which these two name even when the records before are gone.
   */
  batchStartSeq: number;
  batchPrevExpiresAt: number;
}

/** An immutable chain record: its content, the previous hash and its own hash. */
export interface ChainRecord extends ChainRecordContent {
  prevHash: string;
  hash: string;
}

const RECORD_CONTENT_FIELDS = [
  'v',
  'logId',
  'seq',
  'eventId',
  'eventDigest',
  'eventExpiresAt',
  'chainedAtMs',
  'expiresAt',
  'prevExpiresAt',
  'batchStartSeq',
  'batchPrevExpiresAt',
] as const;

/** The hashed fields of a stored (possibly tampered) record; its other attributes are not part of it. */
export function chainRecordContent(item: Record<string, unknown>): ChainRecordContent {
  const content: Record<string, unknown> = {};
  for (const field of RECORD_CONTENT_FIELDS) content[field] = item[field];
  return content as unknown as ChainRecordContent;
}

/** A record's hash: SHA-256 of the previous hash followed by the record's canonical content. */
export function chainRecordHash(prevHash: string, content: ChainRecordContent): string {
  return chainHash(prevHash, content);
}

/** A stored record with every field of the right type, or undefined. */
export function parseChainRecord(item: Record<string, unknown>): ChainRecord | undefined {
  const c = chainRecordContent(item);
  const { prevHash, hash } = item;
  if (c.v !== CHAIN_FORMAT || typeof c.logId !== 'string' || typeof c.eventId !== 'string') return undefined;
  if (typeof c.eventDigest !== 'string' || !HEX64.test(c.eventDigest)) return undefined;
  if (typeof prevHash !== 'string' || !HEX64.test(prevHash) || typeof hash !== 'string' || !HEX64.test(hash))
    return undefined;
  for (const n of [
    c.seq,
    c.eventExpiresAt,
    c.chainedAtMs,
    c.expiresAt,
    c.prevExpiresAt,
    c.batchStartSeq,
    c.batchPrevExpiresAt,
  ])
    if (!isCount(n)) return undefined;
  return { ...c, prevHash, hash };
}

/** An authenticated position in a log: what a walk can start from and what a checkpoint records. */
export interface ChainPoint {
  seq: number;
  hash: string;
  chainedAtMs: number;
  /** Expiry of the record at `seq` (0 before the first record). */
  expiresAt: number;
  /** Largest event expiry chained up to `seq`: once past, no event at or before `seq` needs to exist. */
  maxEventExpiresAt: number;
}

/** A log's head: its latest point, the newest event id chained so far, and its last batch. */
export interface ChainHead extends ChainPoint {
  /** Largest event ULID chained so far; pending events are looked for from a grace window before it. */
  watermark: string;
  /** First sequence of the last batch, and its records' hashes (the next statement repeats them). */
  batchStartSeq: number;
  batchHashes: string[];
}

export const EMPTY_HEAD: ChainHead = {
  seq: 0,
  hash: GENESIS_HASH,
  chainedAtMs: 0,
  expiresAt: 0,
  maxEventExpiresAt: 0,
  watermark: '',
  batchStartSeq: 0,
  batchHashes: [],
};

export const HEAD_STATEMENT = 'strongroom.audit.head';
export const CHECKPOINT_STATEMENT = 'strongroom.audit.checkpoint';

/**
 * What the sequencer MACs after each batch: the new head, and the hash of every record of this batch and
 * of the batch before it (so a verifier holding this statement can tell exactly which of those records
 * differs from what was chained, even when the previous batch's own seal was deleted with its record).
 * Stored as the log's HEAD item and as the `seal` of the batch's last record.
 */
export interface HeadStatement extends Omit<ChainHead, 'batchHashes'> {
  type: typeof HEAD_STATEMENT;
  v: number;
  logId: string;
  /** First sequence covered (the previous batch's start, or this batch's on a log's first batch). */
  fromSeq: number;
  /** Hashes of the records fromSeq..seq. */
  hashes: string[];
}

/** What the daily job MACs for each log: the head it found and verified, on a given UTC day. */
export interface CheckpointStatement extends ChainPoint {
  type: typeof CHECKPOINT_STATEMENT;
  v: number;
  logId: string;
  day: string;
  takenAtMs: number;
}

export type ChainStatement = HeadStatement | CheckpointStatement;

/**
 * The message MAC'd for a statement: its type and the SHA-256 of its canonical JSON (GenerateMac takes at
 * most 4096 bytes; a batch's hashes alone can come close).
 */
export function macMessage(statement: ChainStatement): string {
  return `${statement.type}:${createHash('sha256').update(canonicalJson(statement), 'utf8').digest('hex')}`;
}

function pointFields(value: Record<string, unknown>): ChainPoint | undefined {
  const { seq, hash, chainedAtMs, expiresAt, maxEventExpiresAt } = value;
  if (typeof hash !== 'string' || !HEX64.test(hash)) return undefined;
  for (const n of [seq, chainedAtMs, expiresAt, maxEventExpiresAt]) if (!isCount(n)) return undefined;
  return { seq, hash, chainedAtMs, expiresAt, maxEventExpiresAt } as ChainPoint;
}

/** The head statement in a stored HEAD item or seal, exactly as MAC'd, or undefined when malformed. */
export function parseHeadStatement(value: unknown, logId: string): HeadStatement | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const point = pointFields(v);
  const { fromSeq, hashes, watermark, batchStartSeq } = v;
  if (!point || v.type !== HEAD_STATEMENT || v.v !== CHAIN_FORMAT || v.logId !== logId) return undefined;
  if (typeof watermark !== 'string' || !isCount(fromSeq) || fromSeq < 1 || fromSeq > point.seq)
    return undefined;
  if (!isCount(batchStartSeq) || batchStartSeq < fromSeq || batchStartSeq > point.seq) return undefined;
  if (!Array.isArray(hashes) || hashes.length !== point.seq - fromSeq + 1) return undefined;
  if (!hashes.every((h) => typeof h === 'string' && HEX64.test(h)) || hashes.at(-1) !== point.hash)
    return undefined;
  return {
    type: HEAD_STATEMENT,
    v: CHAIN_FORMAT,
    logId,
    ...point,
    watermark,
    batchStartSeq,
    fromSeq,
    hashes,
  };
}

/** The checkpoint statement in a stored CHECKPOINT item, exactly as MAC'd, or undefined when malformed. */
export function parseCheckpointStatement(value: unknown, logId: string): CheckpointStatement | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const point = pointFields(v);
  const { day, takenAtMs } = v;
  if (!point || v.type !== CHECKPOINT_STATEMENT || v.v !== CHAIN_FORMAT || v.logId !== logId)
    return undefined;
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day) || !isCount(takenAtMs)) return undefined;
  return { type: CHECKPOINT_STATEMENT, v: CHAIN_FORMAT, logId, day, takenAtMs, ...point };
}

/** The checkpoint statement for a log's head, taken now. */
export function checkpointOf(logId: string, head: ChainPoint, takenAtMs: number): CheckpointStatement {
  const { seq, hash, chainedAtMs, expiresAt, maxEventExpiresAt } = head;
  return {
    type: CHECKPOINT_STATEMENT,
    v: CHAIN_FORMAT,
    logId,
    day: utcDay(takenAtMs),
    takenAtMs,
    seq,
    hash,
    chainedAtMs,
    expiresAt,
    maxEventExpiresAt,
  };
}

/** The head a statement states (with its last batch's hashes, for the next statement). */
export function headOf(statement: HeadStatement): ChainHead {
  const { seq, hash, chainedAtMs, expiresAt, maxEventExpiresAt, watermark, batchStartSeq } = statement;
  const batchHashes = statement.hashes.slice(batchStartSeq - statement.fromSeq);
  return { seq, hash, chainedAtMs, expiresAt, maxEventExpiresAt, watermark, batchStartSeq, batchHashes };
}

// ---------------------------------------------------------------------------------------------------------
// Sequencing

/** A stored event item as read back (pk/sk included); `id` and `ttl` are required. */
export interface StoredEventItem extends Record<string, unknown> {
  id: string;
  ttl: number;
}

/**
 * One sequencing step: the chain records for `events` (already sorted in integration order and not yet
 * chained) appended after `head`, the head that results and the statement to authenticate. Pure: the
 * caller MACs the statement and writes it all in one transaction, conditional on the head it read.
 */
export function appendToChain(
  head: ChainHead,
  logId: string,
  events: readonly StoredEventItem[],
  nowMs: number,
): { records: ChainRecord[]; head: ChainHead; statement: HeadStatement } {
  if (events.length === 0) throw new RangeError('appendToChain needs at least one event');
  // Never backwards: record expiry grows with the sequence, which is what lets a verifier tell an expired
  // start of the chain from a deleted one.
  const chainedAtMs = Math.max(nowMs, head.chainedAtMs);
  const chainedAtS = Math.floor(chainedAtMs / 1000);
  const expiresAt = chainedAtS + CHAIN_RETENTION_DAYS * DAY_SECONDS;
  const eventCap = chainedAtS + MAX_EVENT_RETENTION_DAYS * DAY_SECONDS;
  const records: ChainRecord[] = [];
  let { seq, hash, watermark, maxEventExpiresAt, expiresAt: prevExpiresAt } = head;
  const batchStartSeq = head.seq + 1;
  const batchPrevExpiresAt = head.expiresAt;
  for (const event of events) {
    const ulid = eventUlid(event.id);
    // The event's own TTL (DynamoDB may delete it from then on), capped so that no event is ever required
    // beyond the longest retention after its chaining.
    const ttl = event.ttl;
    const eventExpiresAt =
      typeof ttl === 'number' && Number.isFinite(ttl)
        ? Math.max(0, Math.min(Math.floor(ttl), eventCap))
        : eventCap;
    const content: ChainRecordContent = {
      v: CHAIN_FORMAT,
      logId,
      seq: seq + 1,
      eventId: event.id,
      eventDigest: eventDigest(event),
      eventExpiresAt,
      chainedAtMs,
      expiresAt,
      prevExpiresAt,
      batchStartSeq,
      batchPrevExpiresAt,
    };
    const record: ChainRecord = { ...content, prevHash: hash, hash: chainRecordHash(hash, content) };
    records.push(record);
    seq = record.seq;
    hash = record.hash;
    prevExpiresAt = expiresAt;
    maxEventExpiresAt = Math.max(maxEventExpiresAt, eventExpiresAt);
    if (ulid > watermark) watermark = ulid;
  }
  const batchHashes = records.map((r) => r.hash);
  const next: ChainHead = {
    seq,
    hash,
    chainedAtMs,
    expiresAt,
    maxEventExpiresAt,
    watermark,
    batchStartSeq,
    batchHashes,
  };
  const previous = head.seq > 0 && head.batchHashes.length === head.seq - head.batchStartSeq + 1;
  const statement: HeadStatement = {
    type: HEAD_STATEMENT,
    v: CHAIN_FORMAT,
    logId,
    seq,
    hash,
    chainedAtMs,
    expiresAt,
    maxEventExpiresAt,
    watermark,
    batchStartSeq,
    fromSeq: previous ? head.batchStartSeq : batchStartSeq,
    hashes: previous ? [...head.batchHashes, ...batchHashes] : batchHashes,
  };
  return { records, head: next, statement };
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
  /** A record that must exist (not proven expired) is missing. */
  | 'missing-chain-record'
  /** A record's sequence attribute disagrees with its key. */
  | 'bad-sequence'
  /** A record does not continue the one before (previous hash, expiry or time, or another log's record). */
  | 'broken-link'
  /** A record's hash is not the hash of its content, or an event does not match its record's digest. */
  | 'hash-mismatch'
  /** A record is well-linked but impossible for the sequencer to have written (expiries off). */
  | 'bad-record'
  /** An event that has not expired (by its record) is missing. */
  | 'missing-event'
  /** The event found is not the one the record names. */
  | 'wrong-event'
  /** Two records name the same event. */
  | 'duplicate-event'
  /** The stored chain differs here from what the sequencer authenticated (its seals and head). */
  | 'not-authentic'
  /** The head is missing, or records exist past it. */
  | 'head-mismatch'
  /** The head item's MAC is not valid, although the chain itself is authentic. */
  | 'head-not-authentic'
  /** The chain is behind, or no longer contains, an authenticated checkpoint. */
  | 'head-rolled-back'
  /** A checkpoint's MAC is not valid. */
  | 'checkpoint-not-authentic';

export interface ChainBreak {
  seq: number;
  reason: BreakReason;
}

/** Where a walk starts: genesis, an authenticated checkpoint, or the record before a page. */
export type WalkStart = Pick<ChainPoint, 'seq' | 'hash' | 'expiresAt' | 'chainedAtMs'>;

export const GENESIS: WalkStart = { seq: 0, hash: GENESIS_HASH, expiresAt: 0, chainedAtMs: 0 };

/** What the walker is given for one stored chain record: its key's sequence, its attributes, its event. */
export interface WalkEntry {
  seq: number;
  /** The record's attributes as stored (untrusted). */
  record: Record<string, unknown>;
  event: StoredEventItem | undefined;
}

/**
 * An authenticated statement found on the walk (a seal, or the head) compared with the record hashes it
 * lists. Its MAC is checked only when needed (`locateFirstUnproven`).
 */
export interface Sighting {
  /** The statement's sequence (its batch's last record). */
  seq: number;
  /** No listed hash differs from the walked one. */
  consistent: boolean;
  /** The highest walked sequence whose hash the statement lists and matches (what it can prove). */
  matchedThrough?: number;
  /** The first walked sequence whose hash differs from the statement's (when not consistent). */
  firstMismatch?: number;
  message: string;
  mac: string;
}

/** A run of missing records, accepted because the record after it says every record before it expired. */
export interface ExcusedGap {
  from: number;
  excusedBy: number;
}

const RECENT_HASHES = 128;

/**
 * Walks one log's chain records in ascending sequence order and reports the first internal break: every
 * record's hash recomputed from its own content, linked to the one before, its event present (unless its
 * hashed expiry has passed) and matching the digest. Gaps are accepted only when the hashed `prevExpiresAt`
 * of the record after them has passed (records expire in sequence order; DynamoDB deletes expired items late
 * and in any order). Collects the seals it passes; whether what it walked is what the sequencer
 * authenticated is decided from those (`locateFirstUnproven`). After a break it only collects seals.
 */
export class ChainWalker {
  readonly #logId: string;
  readonly #nowS: number;
  readonly #start: WalkStart;
  #last: WalkStart;
  #lastRecord: ChainRecord | undefined;
  #checked = 0;
  #broken: ChainBreak | undefined;
  readonly #seen = new Set<string>();
  readonly #recent = new Map<number, string>();
  readonly #sightings: Sighting[] = [];
  readonly #gaps: ExcusedGap[] = [];
  readonly #capture: ReadonlySet<number>;
  readonly #captured = new Map<number, string>();

  /** `capture`: sequences whose walked hash to remember (checkpoints to compare). */
  constructor(logId: string, nowMs: number, start: WalkStart = GENESIS, capture: Iterable<number> = []) {
    this.#logId = logId;
    this.#nowS = Math.floor(nowMs / 1000);
    this.#start = start;
    this.#last = start;
    this.#capture = new Set(capture);
  }

  get start(): WalkStart {
    return this.#start;
  }

  /** The last record walked without a break (the start when none). */
  get last(): WalkStart {
    return this.#last;
  }

  /** Records walked without a break. */
  get checked(): number {
    return this.#checked;
  }

  get broken(): ChainBreak | undefined {
    return this.#broken;
  }

  /** The statements sighted, in sequence order (the head may come last but sit before records past it). */
  get sightings(): readonly Sighting[] {
    return [...this.#sightings].sort((a, b) => a.seq - b.seq);
  }

  get gaps(): readonly ExcusedGap[] {
    return this.#gaps;
  }

  /** The walked hash at a captured sequence. */
  hashAt(seq: number): string | undefined {
    return this.#captured.get(seq);
  }

  /** Records walked before `seq` (those after the start, less excused gaps). */
  walkedBefore(seq: number): number {
    let n = Math.min(seq - 1, this.#last.seq) - this.#start.seq;
    for (const gap of this.#gaps) if (gap.from < seq) n -= Math.min(gap.excusedBy, seq) - gap.from;
    return Math.max(0, Math.min(n, this.#checked));
  }

  /** Checks the next stored record; returns whether it carried a seal. */
  push(entry: WalkEntry): boolean {
    if (!this.#broken) {
      this.#broken = this.#check(entry);
      if (!this.#broken) {
        const hash = entry.record.hash as string;
        this.#last = {
          seq: entry.seq,
          hash,
          expiresAt: entry.record.expiresAt as number,
          chainedAtMs: entry.record.chainedAtMs as number,
        };
        this.#lastRecord = parseChainRecord(entry.record);
        this.#checked++;
        this.#recent.set(entry.seq, hash);
        this.#recent.delete(entry.seq - RECENT_HASHES);
        if (this.#capture.has(entry.seq)) this.#captured.set(entry.seq, hash);
      }
    }
    return this.#sight(entry.seq, entry.record.seal);
  }

  /** Adds the head as the final sighting, compared like a seal. */
  sightHead(statement: HeadStatement, mac: string): void {
    this.#sight(statement.seq, { ...statement, mac });
  }

  #sight(seq: number, seal: unknown): boolean {
    if (typeof seal !== 'object' || seal === null) return false;
    const { mac, ...rest } = seal as Record<string, unknown>;
    const statement = parseHeadStatement(rest, this.#logId);
    if (!statement || statement.seq !== seq || typeof mac !== 'string') return false;
    // Only records walked without a break count: after a break, a seal still vouches for those before it.
    const limit = this.#broken ? this.#broken.seq : Number.POSITIVE_INFINITY;
    let firstMismatch: number | undefined;
    let matchedThrough: number | undefined;
    statement.hashes.forEach((listed, i) => {
      const at = statement.fromSeq + i;
      const walked = at < limit ? this.#recent.get(at) : undefined;
      if (walked === undefined) return;
      if (walked !== listed) firstMismatch ??= at;
      else if (firstMismatch === undefined) matchedThrough = at;
    });
    // A statement that compared nothing proves nothing (its records are before the start or missing).
    if (firstMismatch === undefined && matchedThrough === undefined) return true;
    this.#sightings.push({
      seq,
      consistent: firstMismatch === undefined,
      ...(matchedThrough !== undefined ? { matchedThrough } : {}),
      ...(firstMismatch !== undefined ? { firstMismatch } : {}),
      message: macMessage(statement),
      mac,
    });
    return true;
  }

  /**
   * The first retained record of a gap from `from` up to `after` (a record whose predecessor is retained):
   * its batch's start when the record before that batch has expired; the gap's start when the gap reaches
   * into `after`'s batch, or when retained batches before it are gone too (their starts went with them).
   */
  #firstRetained(from: number, after: ChainRecord): number {
    const start = after.batchStartSeq;
    if (start > from && start < after.seq && after.batchPrevExpiresAt <= this.#nowS) return start;
    return from;
  }

  #check({ seq, record: item, event }: WalkEntry): ChainBreak | undefined {
    const fail = (at: number, reason: BreakReason) => ({ seq: at, reason });
    const expected = this.#last.seq + 1;
    if (seq < expected) return fail(seq, 'bad-sequence');
    const record = parseChainRecord(item);
    if (!record) return fail(seq, 'hash-mismatch');
    if (record.seq !== seq) return fail(seq, 'bad-sequence');
    if (chainRecordHash(record.prevHash, chainRecordContent(item)) !== record.hash)
      return fail(seq, 'hash-mismatch');
    if (record.logId !== this.#logId) return fail(seq, 'broken-link');
    if (seq > expected) {
      // Records expire in sequence order, so the record after a gap vouches for all of it; whether it is
      // itself authentic is settled with the seals (an excuse from a forged record is void).
      if (record.prevExpiresAt > this.#nowS || record.prevExpiresAt > record.expiresAt)
        return fail(this.#firstRetained(expected, record), 'missing-chain-record');
      this.#gaps.push({ from: expected, excusedBy: seq });
    } else {
      if (record.prevHash !== this.#last.hash) return fail(seq, 'broken-link');
      if (record.prevExpiresAt !== this.#last.expiresAt || record.chainedAtMs < this.#last.chainedAtMs)
        return fail(seq, 'broken-link');
      // Within a batch every record repeats the batch's fields and chaining time.
      const previous = this.#lastRecord;
      if (
        previous &&
        record.batchStartSeq < seq &&
        (record.batchStartSeq !== previous.batchStartSeq ||
          record.batchPrevExpiresAt !== previous.batchPrevExpiresAt ||
          record.chainedAtMs !== previous.chainedAtMs)
      )
        return fail(seq, 'bad-record');
    }
    if (
      record.batchStartSeq > seq ||
      (record.batchStartSeq === seq && record.batchPrevExpiresAt !== record.prevExpiresAt) ||
      record.batchPrevExpiresAt > record.prevExpiresAt
    )
      return fail(seq, 'bad-record');
    const chainedAtS = Math.floor(record.chainedAtMs / 1000);
    if (
      record.expiresAt !== chainedAtS + CHAIN_RETENTION_DAYS * DAY_SECONDS ||
      record.eventExpiresAt > chainedAtS + MAX_EVENT_RETENTION_DAYS * DAY_SECONDS
    )
      return fail(seq, 'bad-record');
    let ulid: string;
    try {
      ulid = eventUlid(record.eventId);
    } catch {
      return fail(seq, 'wrong-event');
    }
    if (this.#seen.has(ulid)) return fail(seq, 'duplicate-event');
    this.#seen.add(ulid);
    if (!event) return record.eventExpiresAt > this.#nowS ? fail(seq, 'missing-event') : undefined;
    // An expired event still present (TTL deletion lags) must still be the event that was chained.
    if (event.id !== record.eventId || event.logId !== this.#logId) return fail(seq, 'wrong-event');
    let digest: string;
    try {
      digest = eventDigest(event);
    } catch {
      return fail(seq, 'hash-mismatch');
    }
    return digest === record.eventDigest ? undefined : fail(seq, 'hash-mismatch');
  }
}

/** What the sighted statements prove about a walk. */
export interface Proof {
  /** Every walked record up to here is what the sequencer authenticated (the start when nothing is). */
  provenThrough: number;
  /** The first record found to differ: exact when an authentic statement lists its original hash. */
  firstUnproven?: { seq: number; exact: boolean };
}

/**
 * What the statements sighted on a walk prove: binary search for the last one that is consistent with the
 * walk and whose MAC is valid (a stored chain that diverged from the authentic one stays diverged, so these
 * form a prefix), checking the last one first so that an intact chain costs one MAC check. The statement
 * after it, if its MAC is valid, lists the authentic hashes and so names the exact record that differs; if
 * not (forged or stripped evidence), the answer is the first sequence after the last one proven.
 */
export async function locateFirstUnproven(
  sightings: readonly Sighting[],
  startSeq: number,
  authentic: (sighting: Sighting) => Promise<boolean>,
): Promise<Proof> {
  const list = sightings;
  if (list.length === 0) return { provenThrough: startSeq };
  const good = async (i: number) => list[i]!.consistent && (await authentic(list[i]!));
  const last = list.length - 1;
  if (await good(last)) return { provenThrough: list[last]!.matchedThrough ?? startSeq };
  let lo = -1;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (await good(mid)) lo = mid;
    else hi = mid;
  }
  const bad = list[hi]!;
  const provenThrough = lo >= 0 ? (list[lo]!.matchedThrough ?? startSeq) : startSeq;
  if (!bad.consistent && bad.firstMismatch !== undefined && (await authentic(bad)))
    return {
      provenThrough,
      firstUnproven: { seq: Math.max(bad.firstMismatch, provenThrough + 1), exact: true },
    };
  return { provenThrough, firstUnproven: { seq: provenThrough + 1, exact: false } };
}

/**
 * How far before the watermark pending events are looked for. An event's id is taken when the writer
 * builds it, so it can commit after newer events were chained; API functions finish within 15 minutes
 * (Lambda's limit), so no event commits later than that after its id was taken. Older stragglers are
 * still found: the stream passes every new event's id as a hint, and the daily job sweeps with a long
 * look-back.
 */
export const DEFAULT_GRACE_MS = 15 * 60_000;
