import type { ChainMacVerifier } from '../crypto/chain-mac.js';
import {
  type BreakReason,
  type ChainBreak,
  type ChainHead,
  ChainWalker,
  type CheckpointStatement,
  GENESIS,
  GENESIS_HASH,
  headOf,
  locateFirstUnproven,
  macMessage,
  parseChainRecord,
  type Sighting,
  type StoredEventItem,
  seqOfChainSk,
  type WalkStart,
} from '../domain/audit-chain.js';
import { ValidationError } from '../errors.js';
import type { StoredCheckpoint, StoredHead } from './audit-stored-items.js';

export {
  type StoredCheckpoint,
  type StoredHead,
  storedCheckpointOf,
  storedHeadOf,
} from './audit-stored-items.js';

/** What verification reads of one log (AuditLogReader implements it). */
export interface ChainSource {
  readonly logId: string;
  storedHead(): Promise<StoredHead>;
  storedCheckpoints(): Promise<StoredCheckpoint[]>;
  chainRecord(seq: number): Promise<Record<string, unknown> | undefined>;
  /** Chain records from `fromSeq` to `toSeq` (inclusive; undefined: to the end), ascending. */
  chainRecords(fromSeq: number, toSeq?: number): AsyncIterable<Record<string, unknown>>;
  /**
   * Events by id. `retained`: the ids that must exist (their records say they have not expired); only
   * those are looked for one by one when a range read misses them.
   */
  eventsById(ids: readonly unknown[], retained?: ReadonlySet<string>): Promise<Map<string, StoredEventItem>>;
}

export interface ChainVerifyOptions {
  /**
   * `start` (default): from the oldest record still required, i.e. the newest authenticated checkpoint
   * before which every event has expired, else sequence 1. `checkpoint`: from the newest authenticated
   * checkpoint (what the daily job last verified), for a quick check of what was chained since.
   */
  from?: 'start' | 'checkpoint';
  /** Continue a paged verification at this sequence (a previous outcome's `nextSeq`). */
  resumeAt?: number;
  /** Stop after about this many records, at the next seal; undefined walks to the head. */
  maxRecords?: number;
}

export interface ChainVerifyOutcome {
  ok: boolean;
  /** Records checked in this walk (before the first broken one). */
  checked: number;
  firstBrokenSequence?: number;
  reason?: BreakReason;
  /** The walk reached the head; otherwise continue at `nextSeq`. */
  complete: boolean;
  nextSeq?: number;
  /** The walk started after `seq`: genesis (0), a checkpoint (its day), or a previous page. */
  from: { seq: number; checkpoint?: string };
  head: { seq: number; hash: string };
  /** The head, when the whole chain verified against it (what a checkpoint may record). */
  authenticHead?: ChainHead;
}

/** Records read per event lookup while walking. */
const WALK_PAGE = 100;
/** Records read past a break, for the seals that say which records before it are authentic. */
const TAIL_AFTER_BREAK = 49;
/** Records past the page budget within which a seal must appear (batches are at most 49 records). */
const SEAL_WINDOW = 98;

/**
 * Verifies one log against what the sequencer and the daily job authenticated (see shared/domain/
 * audit-chain.ts for the model). In order:
 * 1. the start: a resumed page's preceding record, else an authenticated checkpoint (`from`), else genesis;
 * 2. the walk (ChainWalker): internal consistency, events and their hashed expiry, seals sighted;
 * 3. past the head: records after a head that did not move mean it was rolled back (they are walked too,
 *    since their seals may show that history was also rewritten);
 * 4. proof: the head and seals, MAC-checked (one call when intact), prove what was walked or locate the
 *    first record that differs; a gap excused by a record not proven authentic is not excused;
 * 5. on a complete walk: the head itself, and the checkpoints (a later one must not be ahead of the head,
 *    one within the walk must match it).
 * The first broken sequence is the smallest of what these find, internal breaks and proof first.
 */
export async function verifyChain(
  source: ChainSource,
  mac: ChainMacVerifier,
  nowMs: number,
  options: ChainVerifyOptions = {},
): Promise<ChainVerifyOutcome> {
  const nowS = Math.floor(nowMs / 1000);
  const macs = new Map<string, Promise<boolean>>();
  const authentic = (message: string, tag: string | undefined) => {
    if (tag === undefined) return Promise.resolve(false);
    const key = `${message}|${tag}`;
    let known = macs.get(key);
    if (!known) {
      known = mac.verify(message, tag);
      macs.set(key, known);
    }
    return known;
  };
  const checkpointAuthentic = (c: StoredCheckpoint) =>
    c.statement ? authentic(macMessage(c.statement), c.mac) : Promise.resolve(false);

  const head = await source.storedHead();
  const checkpoints = await source.storedCheckpoints();
  const headSeq = head.statement?.seq ?? head.claimedSeq;
  const headView = { seq: head.statement?.seq ?? 0, hash: head.statement?.hash ?? GENESIS_HASH };

  const outcome = (
    fields: Omit<ChainVerifyOutcome, 'ok' | 'head' | 'checked' | 'from'> & {
      verdict?: ChainBreak;
      checked: number;
      from: WalkStart;
      checkpoint?: string;
    },
  ): ChainVerifyOutcome => {
    const { verdict, from, checkpoint, ...rest } = fields;
    return {
      ok: verdict === undefined,
      ...rest,
      ...(verdict ? { firstBrokenSequence: verdict.seq, reason: verdict.reason } : {}),
      from: { seq: from.seq, ...(checkpoint ? { checkpoint } : {}) },
      head: headView,
    };
  };

  // A checkpoint item that is not a well-formed statement was not written by the daily job.
  const malformed = checkpoints.find((c) => !c.statement);
  if (malformed) {
    return outcome({
      verdict: { seq: Math.max(1, malformed.claimedSeq ?? 1), reason: 'checkpoint-not-authentic' },
      checked: 0,
      complete: true,
      from: GENESIS,
    });
  }
  const statements = checkpoints as Array<StoredCheckpoint & { statement: CheckpointStatement }>;

  // 1. Where the walk starts.
  let start: WalkStart = GENESIS;
  let startCheckpoint: string | undefined;
  if (options.resumeAt !== undefined && options.resumeAt > 1) {
    const item = await source.chainRecord(options.resumeAt - 1);
    const record = item ? parseChainRecord(item) : undefined;
    if (!record || record.seq !== options.resumeAt - 1)
      throw new ValidationError([
        { path: 'query.cursor', message: 'The cursor no longer points into this chain' },
      ]);
    start = {
      seq: record.seq,
      hash: record.hash,
      expiresAt: record.expiresAt,
      chainedAtMs: record.chainedAtMs,
    };
  } else if (options.resumeAt === undefined) {
    const usable = statements.filter((c) => headSeq === undefined || c.statement.seq <= headSeq);
    const eligible =
      options.from === 'checkpoint' ? usable : usable.filter((c) => c.statement.maxEventExpiresAt <= nowS);
    const anchor = eligible.reduce<(typeof statements)[number] | undefined>(
      (best, c) => (best === undefined || c.statement.seq > best.statement.seq ? c : best),
      undefined,
    );
    if (anchor) {
      if (!(await checkpointAuthentic(anchor)))
        return outcome({
          verdict: { seq: Math.max(1, anchor.statement.seq), reason: 'checkpoint-not-authentic' },
          checked: 0,
          complete: true,
          from: GENESIS,
        });
      start = anchor.statement;
      startCheckpoint = anchor.statement.day;
    }
  }

  // 2. The walk.
  const walker = new ChainWalker(
    source.logId,
    nowMs,
    start,
    statements.map((c) => c.statement.seq).filter((seq) => seq > start.seq),
  );
  const budget = options.maxRecords;
  let tail = 0;
  let stoppedEarly = false;
  const walk = async (fromSeq: number, toSeq: number | undefined, limited: boolean) => {
    let page: Array<{ seq: number; item: Record<string, unknown> }> = [];
    let done = false;
    const flush = async () => {
      // An expired event is not looked for item by item (TTL has usually deleted it); one still in the range
      // read is still checked.
      const retained = new Set(
        page
          .filter((p) => typeof p.item.eventExpiresAt === 'number' && p.item.eventExpiresAt > nowS)
          .map((p) => String(p.item.eventId)),
      );
      const events = walker.broken
        ? new Map()
        : await source.eventsById(
            page.map((p) => p.item.eventId),
            retained,
          );
      for (const { seq, item } of page) {
        const eventId = typeof item.eventId === 'string' ? item.eventId : undefined;
        const sealed = walker.push({ seq, record: item, event: eventId ? events.get(eventId) : undefined });
        if (walker.broken) {
          if (++tail > TAIL_AFTER_BREAK) return (done = true);
        } else if (limited && budget !== undefined && walker.checked >= budget && seq !== toSeq) {
          if (sealed || walker.checked >= budget + SEAL_WINDOW) {
            stoppedEarly = true;
            return (done = true);
          }
        }
      }
      page = [];
      return false;
    };
    for await (const item of source.chainRecords(fromSeq, toSeq)) {
      const seq = seqOfChainSk(String(item.sk));
      if (seq === undefined) continue;
      page.push({ seq, item });
      if (page.length >= WALK_PAGE && (await flush())) break;
    }
    if (!done && page.length > 0) await flush();
  };
  await walk(start.seq + 1, headSeq, true);

  // 3. Past the head. A sequencer may have moved it meanwhile (it writes records and head together), so
  // only a head that stayed put makes records past it a finding.
  let beyondHead = false;
  if (!stoppedEarly && !walker.broken && head.exists && headSeq !== undefined) {
    if (await source.chainRecord(headSeq + 1)) {
      const again = await source.storedHead();
      if ((again.statement?.seq ?? again.claimedSeq ?? 0) <= headSeq) {
        beyondHead = true;
        await walk(headSeq + 1, undefined, false);
      }
    }
  }

  // 4. Proof: what the walk found, and what the head and seals prove of it.
  if (head.statement && head.mac !== undefined && !stoppedEarly) walker.sightHead(head.statement, head.mac);
  const proof = await locateFirstUnproven(walker.sightings, start.seq, (s: Sighting) =>
    authentic(s.message, s.mac),
  );
  const lastSeq = walker.last.seq;
  // What the proof is about: the records walked without a break (a gap the walk stopped at was not walked).
  const reached = lastSeq;
  const candidates: ChainBreak[] = [];
  if (walker.broken) candidates.push(walker.broken);
  if (proof.firstUnproven && proof.firstUnproven.seq <= reached)
    candidates.push({ seq: proof.firstUnproven.seq, reason: 'not-authentic' });
  else if (proof.provenThrough < reached)
    candidates.push({ seq: proof.provenThrough + 1, reason: 'not-authentic' });
  // A gap excused by a record that is not proven authentic is not excused.
  const voided = walker.gaps.find((gap) => gap.excusedBy > proof.provenThrough);
  if (voided) candidates.push({ seq: voided.from, reason: 'missing-chain-record' });
  let verdict = earliest(candidates);

  // 5. The head itself, then the checkpoints.
  if (!verdict && !stoppedEarly) {
    if (!head.exists) {
      // Records or checkpoints without a head: the head was deleted (the sequencer refuses to restart).
      if (walker.checked > 0 || walker.gaps.length > 0 || statements.length > 0)
        verdict = { seq: 1, reason: 'head-mismatch' };
    } else if (beyondHead) {
      verdict = { seq: (headSeq ?? 0) + 1, reason: 'head-mismatch' };
    } else if (!head.statement || !(await authentic(macMessage(head.statement), head.mac))) {
      // The chain is proven as far as it goes, but the head item is forged.
      verdict = { seq: Math.min(lastSeq, headSeq ?? lastSeq) + 1, reason: 'head-not-authentic' };
    } else if (lastSeq < head.statement.seq) {
      verdict = { seq: lastSeq + 1, reason: 'missing-chain-record' };
    } else if (walker.last.hash !== head.statement.hash) {
      verdict = { seq: lastSeq, reason: 'not-authentic' };
    }
  }
  verdict ??= await checkpointFindings(source, walker, statements, checkpointAuthentic, start, {
    complete: !stoppedEarly,
    chainEnd: head.statement?.seq ?? lastSeq,
  });

  const complete = !stoppedEarly;
  const checked = verdict ? walker.walkedBefore(verdict.seq) : walker.checked;
  return outcome({
    verdict,
    checked,
    complete,
    ...(complete ? {} : { nextSeq: lastSeq + 1 }),
    from: start,
    checkpoint: startCheckpoint,
    ...(!verdict && complete && head.statement ? { authenticHead: headOf(head.statement) } : {}),
  });
}

function earliest(breaks: readonly ChainBreak[]): ChainBreak | undefined {
  return breaks.reduce<ChainBreak | undefined>(
    (a, b) => (a === undefined || b.seq < a.seq ? b : a),
    undefined,
  );
}

/**
 * What the checkpoints say about a chain that is otherwise proven: one within the walk whose hash differs
 * means history was rewritten after it was taken (a rollback to an older authentic head, then new batches
 * on it); one ahead of the chain's end means the head was rolled back. A checkpoint is believed only once
 * its MAC verifies; a forged one is a finding of its own. The rewrite starts at the first record, after the
 * last checkpoint that still matches, chained after the differing checkpoint was taken: the records it
 * vouched for were all chained before then, and chaining times are hashed and never go backwards.
 */
async function checkpointFindings(
  source: ChainSource,
  walker: ChainWalker,
  checkpoints: ReadonlyArray<StoredCheckpoint & { statement: CheckpointStatement }>,
  authentic: (c: StoredCheckpoint) => Promise<boolean>,
  start: WalkStart,
  walk: { complete: boolean; chainEnd: number },
): Promise<ChainBreak | undefined> {
  const sorted = [...checkpoints].sort((a, b) => a.statement.seq - b.statement.seq);
  const within = sorted.filter((c) => walker.hashAt(c.statement.seq) !== undefined);
  const differs = within.findIndex((c) => walker.hashAt(c.statement.seq) !== c.statement.hash);
  if (differs >= 0) {
    const bad = within[differs]!;
    if (!(await authentic(bad))) return { seq: bad.statement.seq, reason: 'checkpoint-not-authentic' };
    let still = start.seq;
    for (let i = differs - 1; i >= 0; i--) {
      if (await authentic(within[i]!)) {
        still = within[i]!.statement.seq;
        break;
      }
    }
    // Binary search over (still, bad.seq] for the first record chained after the checkpoint was taken.
    let lo = still;
    let hi = bad.statement.seq;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const record = await source.chainRecord(mid);
      const chainedAtMs = record ? parseChainRecord(record)?.chainedAtMs : undefined;
      if (chainedAtMs !== undefined && chainedAtMs <= bad.statement.takenAtMs) lo = mid;
      else hi = mid;
    }
    return { seq: hi, reason: 'head-rolled-back' };
  }
  if (!walk.complete) return undefined;
  const ahead = sorted.filter((c) => c.statement.seq > walk.chainEnd).at(-1);
  if (ahead) {
    if (!(await authentic(ahead))) return { seq: ahead.statement.seq, reason: 'checkpoint-not-authentic' };
    return { seq: walk.chainEnd + 1, reason: 'head-rolled-back' };
  }
  // The newest checkpoint (yesterday's, normally) is always authenticated, whether or not it disagrees.
  const newest = [...checkpoints].sort((a, b) => a.statement.takenAtMs - b.statement.takenAtMs).at(-1);
  if (newest && !(await authentic(newest)))
    return { seq: Math.max(1, newest.statement.seq), reason: 'checkpoint-not-authentic' };
  return undefined;
}
