import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { platformDynamo } from '../../../shared/aws/clients.js';
import { HEAD_SK, chainSk } from '../../../shared/domain/audit-chain.js';
import { AuditSequencer } from '../../../shared/store/audit-sequencer.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import { itemsOf, newScope, overwrite, remove, sampleEvent, storeFromEnv } from './support.js';

let db: DynamoDBDocumentClient;
let store: AuditStore;

beforeAll(() => {
  db = platformDynamo();
  store = storeFromEnv();
});

/** A log of eight chained events; returns its scope, events (by sequence) and chain records. */
async function chainedLog() {
  const scope = newScope();
  for (let i = 1; i <= 8; i++) await store.record(scope, sampleEvent(i));
  await new AuditSequencer({ client: db, tableName: process.env.AUDIT_TABLE!, batchSize: 10 }).sequence(
    scope.tenantId,
  );
  const chain = await itemsOf(db, scope.tenantId, 'CHAIN#');
  const events = await itemsOf(db, scope.tenantId, 'EVENT#');
  const bySeq = (seq: number) => events.find((e) => e.id === chain[seq - 1]!.eventId)!;
  const verify = async () => (await store.readerFor(scope)).verify(60_000);
  expect(await verify()).toMatchObject({ ok: true, checked: 8 });
  return { scope, chain, bySeq, verify };
}

describe('tampering with the stored log is found at exactly its sequence', () => {
  it('an edited event', async () => {
    const { bySeq, verify } = await chainedLog();
    await overwrite(db, { ...bySeq(5), details: { n: 5, after: { role: 'owner' } } });
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 5,
      reason: 'hash-mismatch',
      checked: 4,
    });
  });

  it('an event given a longer retention', async () => {
    const { bySeq, verify } = await chainedLog();
    await overwrite(db, { ...bySeq(2), ttl: bySeq(2).ttl + 86_400 });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 2 });
  });

  it('a deleted event', async () => {
    const { bySeq, verify } = await chainedLog();
    await remove(db, bySeq(3).pk, bySeq(3).sk);
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3, reason: 'missing-event' });
  });

  it('two events swapped (reordered)', async () => {
    const { bySeq, verify } = await chainedLog();
    const [a, b] = [bySeq(4), bySeq(7)];
    await overwrite(db, { ...a, ...pick(b), pk: a.pk, sk: a.sk, id: a.id });
    await overwrite(db, { ...b, ...pick(a), pk: b.pk, sk: b.sk, id: b.id });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 4 });
  });

  it('two chain records swapped (reordered)', async () => {
    const { chain, verify } = await chainedLog();
    const [r3, r6] = [chain[2]!, chain[5]!];
    await overwrite(db, { ...r6, sk: r3.sk, seq: 3 });
    await overwrite(db, { ...r3, sk: r6.sk, seq: 6 });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 3 });
  });

  it('an edited chain record (hash recomputed by the tamperer is still caught by the next link)', async () => {
    const { chain, verify } = await chainedLog();
    await overwrite(db, { ...chain[5]!, hash: 'e'.repeat(64) });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6 });
  });

  it('a chain record pointing at another event', async () => {
    const { chain, verify } = await chainedLog();
    await overwrite(db, { ...chain[1]!, eventId: chain[0]!.eventId });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 2 });
  });

  it('a deleted chain record in the middle, and the last one', async () => {
    const { scope, chain, verify } = await chainedLog();
    await remove(db, scope.tenantId, chainSk(6));
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 6,
      reason: 'missing-chain-record',
    });
    await overwrite(db, chain[5]!);
    await remove(db, scope.tenantId, chainSk(8));
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 8,
      reason: 'missing-chain-record',
    });
  });

  it('a rolled-back head', async () => {
    const { scope, chain, verify } = await chainedLog();
    const [head] = await itemsOf(db, scope.tenantId, HEAD_SK);
    await overwrite(db, { ...head, seq: 5, hash: chain[4]!.hash });
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 6, reason: 'head-mismatch' });
  });

  it('a deleted head: verify reports it and the sequencer refuses to restart the chain', async () => {
    const { scope, verify } = await chainedLog();
    await remove(db, scope.tenantId, HEAD_SK);
    await store.record(scope, sampleEvent(9));
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSequence: 1, reason: 'head-mismatch' });
    const sequencer = new AuditSequencer({ client: db, tableName: process.env.AUDIT_TABLE!, batchSize: 10 });
    await expect(sequencer.sequence(scope.tenantId)).rejects.toThrow(/inconsistent/);
    expect(await itemsOf(db, scope.tenantId, 'CHAIN#')).toHaveLength(8);
  });
});

/** The content fields of an event (what a reorder moves between items). */
function pick(event: Record<string, any>) {
  const { action, actor, resource, details, time } = event;
  return { action, actor, resource, details, time };
}
