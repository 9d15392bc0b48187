import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import {
  CHECKPOINT_STATEMENT,
  chainHash,
  chainRecordContent,
  chainSk,
  checkpointSk,
  eventDigest,
  GENESIS_HASH,
  HEAD_SK,
  markSk,
} from '../../../shared/domain/audit-chain.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import {
  itemsOf,
  newScope,
  overwrite,
  provisionedAuditStore,
  provisionedSequencer,
  remove,
  sampleEvent,
} from './support.js';

let db: DynamoDBDocumentClient;
let store: AuditStore;

beforeAll(() => {
  db = functionRuntime().dynamo;
  store = provisionedAuditStore();
});

const DAY = 86_400;
const nowS = () => Math.floor(Date.now() / 1000);

/**
 * A log of eight chained events. `batches` splits the sequencing (each batch ends in a MAC'd head and a seal
 * on its last record); `heads` are the stored HEAD items after each batch (for replaying an older one).
 */
async function chainedLog(batches: number[] = [8]) {
  const scope = newScope();
  const sequencer = provisionedSequencer({ batchSize: 10 });
  const heads: Record<string, any>[] = [];
  let n = 0;
  for (const size of batches) {
    for (let i = 0; i < size; i++) await store.record(scope, sampleEvent(++n));
    await sequencer.sequence(scope.tenantId);
    heads.push((await itemsOf(db, scope.tenantId, HEAD_SK))[0]!);
  }
  const chain = await itemsOf(db, scope.tenantId, 'CHAIN#');
  const events = await itemsOf(db, scope.tenantId, 'EVENT#');
  const bySeq = (seq: number) => events.find((e) => e.id === chain[seq - 1]!.eventId)!;
  const verify = async () => (await store.readerFor(scope)).verify({ pendingWindowMs: 60_000 });
  expect(await verify()).toMatchObject({ ok: true, checked: n, complete: true });
  return { scope, chain, events, bySeq, heads, verify, sequencer };
}

/**
 * What someone who can write the tables and knows the hash function does after changing records: recompute
 * every record's hash from `fromSeq` to the end with the project's own chainHash (each record's prevHash
 * following), optionally changing each record's content first, and write them back. Seals are left as they
 * are unless `stripSeals`. Returns the rewritten records.
 */
async function rechain(
  chain: Record<string, any>[],
  fromSeq: number,
  options: {
    change?: (record: Record<string, any>) => Record<string, any>;
    prevHash?: string;
    stripSeals?: boolean;
  } = {},
) {
  let prevHash = options.prevHash ?? (fromSeq > 1 ? chain[fromSeq - 2]!.hash : GENESIS_HASH);
  const rewritten: Record<string, any>[] = [];
  for (const original of chain.filter((r) => r.seq >= fromSeq)) {
    let record: Record<string, any> = { ...original, prevHash };
    if (options.change) record = options.change(record);
    record.hash = chainHash(record.prevHash, chainRecordContent(record));
    if (options.stripSeals) delete record.seal;
    await overwrite(db, record);
    rewritten.push(record);
    prevHash = record.hash;
  }
  return rewritten;
}

/** Writes a head for the rewritten chain: the right seq, hash and hashes, but a MAC it cannot make. */
async function forgeHead(scope: { tenantId: string }, last: Record<string, any>, fromSeq = 1) {
  const [head] = await itemsOf(db, scope.tenantId, HEAD_SK);
  const chain = await itemsOf(db, scope.tenantId, 'CHAIN#');
  await overwrite(db, {
    ...head,
    seq: last.seq,
    hash: last.hash,
    fromSeq,
    hashes: chain.filter((r) => r.seq >= fromSeq && r.seq <= last.seq).map((r) => r.hash),
    mac: Buffer.alloc(32, 7).toString('base64'),
  });
}

describe('tampering with the stored log is found at exactly its sequence', () => {
  it('an edited event', async () => {
    // Prepare: event 5's details changed
    const { bySeq, verify } = await chainedLog();
    await overwrite(db, { ...bySeq(5), details: { n: 5, after: { role: 'owner' } } });

    // Act / Assess
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 5,
      reason: 'hash-mismatch',
      checked: 4,
    });
  });

  it('an event given a longer retention', async () => {
    // Prepare: event 2's expiry moved later
    const { bySeq, verify } = await chainedLog();
    await overwrite(db, { ...bySeq(2), ttl: bySeq(2).ttl + 86_400 });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 2, reason: 'hash-mismatch' });
  });

  it('a deleted event', async () => {
    // Prepare: event 3 deleted
    const { bySeq, verify } = await chainedLog();
    await remove(db, bySeq(3).pk, bySeq(3).sk);

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3, reason: 'missing-event' });
  });

  it('a deleted event whose unauthenticated TTL attributes were set to the past', async () => {
    // Prepare: DynamoDB's `ttl` attributes of the record and marker say "expired"; the verifier never reads them.
    const { scope, chain, bySeq, verify } = await chainedLog();
    await remove(db, bySeq(3).pk, bySeq(3).sk);
    await overwrite(db, { ...chain[2]!, ttl: nowS() - DAY });
    const [mark] = await itemsOf(db, scope.tenantId, markSk(bySeq(3).sk.slice(6)));
    await overwrite(db, { ...mark!, ttl: nowS() - DAY });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3, reason: 'missing-event' });
  });

  it("a deleted event whose record's hashed expiry was moved to the past (record rehashed, not re-chained)", async () => {
    // Prepare: event 3 deleted, and its record's expiry moved to the past and rehashed
    const { chain, bySeq, verify } = await chainedLog();
    await remove(db, bySeq(3).pk, bySeq(3).sk);
    const record: Record<string, any> = { ...chain[2]!, eventExpiresAt: nowS() - DAY };
    record.hash = chainHash(record.prevHash, chainRecordContent(record));
    await overwrite(db, record);

    // Act / Assess: record 4 no longer links; the seal on record 8 still lists record 3's original hash.
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3, reason: 'not-authentic' });
  });

  it('a deleted event, its expiry moved to the past and the whole chain re-chained, head forged', async () => {
    // Prepare
    const { scope, chain, bySeq, verify } = await chainedLog();
    await remove(db, bySeq(3).pk, bySeq(3).sk);
    const rewritten = await rechain(chain, 3, {
      change: (r) => (r.seq === 3 ? { ...r, eventExpiresAt: nowS() - DAY, ttl: nowS() - DAY } : r),
    });
    await forgeHead(scope, rewritten.at(-1)!);

    // Act
    const result = await verify();

    // Assess: every hash is consistent, but the seal's MAC'd list names record 3 as the first that differs.
    expect(result).toMatchObject({ ok: false, firstBrokenSequence: 3, reason: 'not-authentic', checked: 2 });
  });

  it('a deleted event re-chained to the head, with an older authentic head replayed', async () => {
    // Prepare: two batches (heads after 4 and 8); event 6 goes, 6..8 are re-chained, head 4 is put back.
    const { chain, bySeq, heads, verify } = await chainedLog([4, 4]);
    await remove(db, bySeq(6).pk, bySeq(6).sk);
    await rechain(chain, 6, { change: (r) => (r.seq === 6 ? { ...r, eventExpiresAt: nowS() - DAY } : r) });
    await overwrite(db, heads[0]!);

    // Act / Assess: head 4 is authentic, but records exist past it, and record 8's seal lists 6's original hash.
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'not-authentic' });
    expect(heads[0]!.seq).toBe(4);
  });

  it('the start of the chain deleted', async () => {
    // Prepare: records 1..3 and their marks deleted
    const { scope, chain, bySeq, verify } = await chainedLog();
    for (let seq = 1; seq <= 3; seq++) {
      await remove(db, scope.tenantId, chainSk(seq));
      await remove(db, scope.tenantId, markSk(bySeq(seq).sk.slice(6)));
    }

    // Act / Assess: record 4's hashed prevExpiresAt says record 3 has not expired.
    expect(chain[3]!.prevExpiresAt).toBeGreaterThan(nowS());
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 1,
      reason: 'missing-chain-record',
      checked: 0,
    });
  });

  it('the start of the chain deleted, the new first record made to look like genesis, re-chained, head forged', async () => {
    // Prepare: records 1..3 and their events go; record 4 claims seq 1's predecessor (genesis) has expired.
    const { scope, chain, bySeq, verify } = await chainedLog();
    for (let seq = 1; seq <= 3; seq++) {
      await remove(db, scope.tenantId, chainSk(seq));
      await remove(db, bySeq(seq).pk, bySeq(seq).sk);
    }
    const rewritten = await rechain(chain, 4, {
      prevHash: GENESIS_HASH,
      change: (r) => (r.seq === 4 ? { ...r, prevExpiresAt: 0 } : r),
    });
    await forgeHead(scope, rewritten.at(-1)!);

    // Act / Assess: the gap was excused only by a record that is not authentic, so it is not excused.
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 1,
      reason: 'missing-chain-record',
    });
  });

  it('an event rewritten and the chain re-chained to the head with chainHash, head forged', async () => {
    // Prepare
    const { scope, chain, bySeq, verify } = await chainedLog();
    const forged = { ...bySeq(5), details: { n: 5, after: { role: 'owner' } } };
    await overwrite(db, forged);
    const rewritten = await rechain(chain, 5, {
      change: (r) => (r.seq === 5 ? { ...r, eventDigest: eventDigest(forged) } : r),
    });
    await forgeHead(scope, rewritten.at(-1)!);

    // Act
    const result = await verify();

    // Assess
    expect(result).toMatchObject({ ok: false, firstBrokenSequence: 5, reason: 'not-authentic', checked: 4 });
  });

  it('an event rewritten and re-chained, with an older authentic head replayed', async () => {
    // Prepare
    const { chain, bySeq, heads, verify } = await chainedLog([4, 4]);
    const forged = { ...bySeq(6), details: { n: 6, after: { role: 'owner' } } };
    await overwrite(db, forged);
    await rechain(chain, 6, {
      change: (r) => (r.seq === 6 ? { ...r, eventDigest: eventDigest(forged) } : r),
    });
    await overwrite(db, heads[0]!);

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'not-authentic' });
  });

  it('an event rewritten and re-chained, seals stripped and head forged: the first sequence not proven', async () => {
    // Prepare: the evidence that would name record 6 exactly (the seal of 5..8) is destroyed; what is left
    // proves records 1..4 (the first batch's seal).
    const { scope, chain, bySeq, verify } = await chainedLog([4, 4]);
    const forged = { ...bySeq(6), details: { n: 6, after: { role: 'owner' } } };
    await overwrite(db, forged);
    const rewritten = await rechain(chain, 5, {
      stripSeals: true,
      change: (r) => (r.seq === 6 ? { ...r, eventDigest: eventDigest(forged) } : r),
    });
    await forgeHead(scope, rewritten.at(-1)!, 5);

    // Act / Assess: never later than the truth; exact once a seal survives.
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 5, reason: 'not-authentic' });
  });

  it('two events swapped (reordered)', async () => {
    // Prepare: events 4 and 7 swapped
    const { bySeq, verify } = await chainedLog();
    const [a, b] = [bySeq(4), bySeq(7)];
    await overwrite(db, { ...a, ...pick(b), pk: a.pk, sk: a.sk, id: a.id });
    await overwrite(db, { ...b, ...pick(a), pk: b.pk, sk: b.sk, id: b.id });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 4 });
  });

  it('two chain records swapped (reordered)', async () => {
    // Prepare: records 3 and 6 swapped
    const { chain, verify } = await chainedLog();
    const [r3, r6] = [chain[2]!, chain[5]!];
    await overwrite(db, { ...r6, sk: r3.sk, seq: 3 });
    await overwrite(db, { ...r3, sk: r6.sk, seq: 6 });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3 });
  });

  it('an edited chain record hash', async () => {
    // Prepare
    const { chain, verify } = await chainedLog();
    await overwrite(db, { ...chain[5]!, hash: 'e'.repeat(64) });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'hash-mismatch' });
  });

  it('a chain record pointing at another event', async () => {
    // Prepare
    const { chain, verify } = await chainedLog();
    await overwrite(db, { ...chain[1]!, eventId: chain[0]!.eventId });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 2 });
  });

  it('a deleted chain record in the middle, and the last one', async () => {
    // Prepare: record 6 deleted
    const { scope, chain, verify } = await chainedLog();
    await remove(db, scope.tenantId, chainSk(6));

    // Act / Assess
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 6,
      reason: 'missing-chain-record',
    });

    // Prepare: record 6 back, the last one deleted
    await overwrite(db, chain[5]!);
    await remove(db, scope.tenantId, chainSk(8));

    // Act / Assess
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 8,
      reason: 'missing-chain-record',
    });
  });

  it('a head rolled back by editing it', async () => {
    // Prepare: the head edited back to record 5
    const { scope, chain, verify } = await chainedLog();
    const [head] = await itemsOf(db, scope.tenantId, HEAD_SK);
    await overwrite(db, { ...head, seq: 5, hash: chain[4]!.hash });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'head-mismatch' });
  });

  it('a head rolled back to an older authentic head, records past it left in place', async () => {
    // Prepare: the first batch's authentic head put back
    const { heads, verify } = await chainedLog([4, 4]);
    await overwrite(db, heads[0]!);

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 5, reason: 'head-mismatch' });
  });

  it('a head rolled back to an older authentic head, records past it deleted: the checkpoint shows it', async () => {
    // Prepare: the daily job checkpointed head 8; records 5..8 and their markers go, head 4 is put back.
    const { scope, heads, bySeq, verify, sequencer } = await chainedLog([4, 4]);
    const verified = await sequencer.reader(scope.tenantId).verify({ pendingWindowMs: 60_000 });
    await sequencer.checkpoint(scope.tenantId, verified.authenticHead!);
    for (let seq = 5; seq <= 8; seq++) {
      await remove(db, scope.tenantId, chainSk(seq));
      await remove(db, scope.tenantId, markSk(bySeq(seq).sk.slice(6)));
    }
    await overwrite(db, heads[0]!);

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 5, reason: 'head-rolled-back' });
    // The sequencer then re-chains the unmarked events on the old head (its MAC is valid): the rewritten
    // history still differs from the checkpoint.
    await sequencer.sequence(scope.tenantId);
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 5, reason: 'head-rolled-back' });
  });

  it('a forged head (MAC not valid) over an intact chain, which the sequencer then refuses to extend', async () => {
    // Prepare: the head's watermark changed
    const { scope, sequencer, verify } = await chainedLog();
    const [head] = await itemsOf(db, scope.tenantId, HEAD_SK);
    await overwrite(db, { ...head, watermark: '7zzzzzzzzzzzzzzzzzzzzzzzzz' });

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 9, reason: 'head-not-authentic' });

    // Act / Assess: a new event, and the sequencer
    await store.record(scope, sampleEvent(9));
    // The very sequencer that wrote the original head: what it trusts is the whole statement, not its
    // sequence and hash, so a head with any field changed is checked again (and refused).
    await expect(sequencer.sequence(scope.tenantId)).rejects.toThrow(/MAC is not valid/);
    expect(await itemsOf(db, scope.tenantId, 'CHAIN#')).toHaveLength(8);
  });

  it('a forged checkpoint', async () => {
    const { scope, chain, verify } = await chainedLog();

    // Prepare: a checkpoint with a MAC of ones
    await overwrite(db, {
      pk: scope.tenantId,
      sk: checkpointSk('2026-01-01'),
      type: CHECKPOINT_STATEMENT,
      v: 1,
      logId: scope.tenantId,
      day: '2026-01-01',
      takenAtMs: Date.now(),
      seq: 9,
      hash: chain[7]!.hash,
      chainedAtMs: chain[7]!.chainedAtMs,
      expiresAt: chain[7]!.expiresAt,
      maxEventExpiresAt: 0,
      mac: Buffer.alloc(32, 1).toString('base64'),
    });

    // Act / Assess
    expect(await verify()).toMatchObject({
      ok: false,
      reason: 'checkpoint-not-authentic',
      firstBrokenSequence: 9,
    });
  });

  it('a deleted head: verify reports it and the sequencer refuses to restart the chain', async () => {
    // Prepare: the head deleted, and a new event recorded
    const { scope, verify } = await chainedLog();
    await remove(db, scope.tenantId, HEAD_SK);
    await store.record(scope, sampleEvent(9));

    // Act / Assess
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 1, reason: 'head-mismatch' });

    // Act / Assess: the sequencer refuses to restart, and writes nothing
    await expect(provisionedSequencer({ batchSize: 10 }).sequence(scope.tenantId)).rejects.toThrow(
      /inconsistent/,
    );
    expect(await itemsOf(db, scope.tenantId, 'CHAIN#')).toHaveLength(8);
  });
});

/** The content fields of an event (what a reorder moves between items). */
function pick(event: Record<string, any>) {
  const { action, actor, resource, details, time } = event;
  return { action, actor, resource, details, time };
}
