import { createHmac, randomBytes } from 'node:crypto';
import { GenerateMacCommand, KMSClient, KMSInvalidMacException, VerifyMacCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KmsChainMac } from '../../../shared/crypto/chain-mac.js';
import {
  appendToChain,
  chainHash,
  chainRecordContent,
  chainSk,
  checkpointOf,
  checkpointSk,
  EMPTY_HEAD,
  eventDigest,
  GENESIS_HASH,
  headOf,
  macMessage,
  parseHeadStatement,
  type StoredEventItem,
  ttlFor,
} from '../../../shared/domain/audit-chain.js';
import { ulid } from '../../../shared/domain/ids.js';
import {
  type ChainSource,
  type ChainVerifyOptions,
  storedCheckpointOf,
  storedHeadOf,
  verifyChain,
} from '../../../shared/store/audit-verification.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const LOG = 't_01jabcdefghjkmnpqrstvwxyz0';
const DAY_MS = 86_400_000;

/** HMAC-SHA-256 in process, standing in for the KMS key (same interface, same message). */
function localMac() {
  const key = randomBytes(32);
  const tag = (message: string) => createHmac('sha256', key).update(message).digest('base64');
  return { generate: async (m: string) => tag(m), verify: async (m: string, t: string) => tag(m) === t };
}

function event(n: number, atMs = NOW + n, retentionDays = 30): StoredEventItem & { sk: string } {
  const id = ulid(atMs);
  return {
    pk: LOG,
    sk: `EVENT#${id}`,
    id: `e_${id}`,
    logId: LOG,
    time: new Date(atMs).toISOString(),
    action: 'member.added',
    actor: { ip: '10.0.0.1', userAgent: 'test' },
    resource: { type: 'member', id: `u_${n}` },
    details: { n },
    ttl: ttlFor(atMs, retentionDays),
  };
}

/** One log held in memory, written the way the sequencer and the daily job write it. */
class MemoryLog implements ChainSource {
  readonly logId = LOG;
  readonly mac = localMac();
  records = new Map<number, Record<string, any>>();
  events = new Map<string, StoredEventItem>();
  head: Record<string, any> | undefined;
  heads: Record<string, any>[] = [];
  checkpoints: Record<string, any>[] = [];

  async append(events: StoredEventItem[], nowMs = NOW) {
    const from = this.head ? headOf(parseHeadStatement(this.head, LOG)!) : EMPTY_HEAD;
    const next = appendToChain(from, LOG, events, nowMs);
    const mac = await this.mac.generate(macMessage(next.statement));
    for (const e of events) this.events.set(e.id, e);
    next.records.forEach((r, i) => {
      const item: Record<string, any> = { pk: LOG, sk: chainSk(r.seq), ...r, ttl: r.expiresAt };
      if (i === next.records.length - 1) item.seal = { ...next.statement, mac };
      this.records.set(r.seq, item);
    });
    this.head = { pk: LOG, sk: 'HEAD', ...next.statement, mac };
    this.heads.push(this.head);
  }

  async checkpoint(takenAtMs: number) {
    const statement = checkpointOf(LOG, headOf(parseHeadStatement(this.head, LOG)!), takenAtMs);
    this.checkpoints.push({
      pk: LOG,
      sk: checkpointSk(statement.day),
      ...statement,
      mac: await this.mac.generate(macMessage(statement)),
    });
  }

  verify(nowMs = NOW + 1000, options: ChainVerifyOptions = {}) {
    return verifyChain(this, this.mac, nowMs, options);
  }

  async storedHead() {
    return storedHeadOf(this.head, LOG);
  }
  async storedCheckpoints() {
    return this.checkpoints.map((c) => storedCheckpointOf(c, LOG));
  }
  async chainRecord(seq: number) {
    return this.records.get(seq);
  }
  async *chainRecords(fromSeq: number, toSeq?: number) {
    for (const seq of [...this.records.keys()].sort((a, b) => a - b))
      if (seq >= fromSeq && (toSeq === undefined || seq <= toSeq)) yield this.records.get(seq)!;
  }
  /** The ids verification said must exist, per lookup (expired ones are not looked for one by one). */
  retainedAsked: string[][] = [];
  async eventsById(ids: readonly unknown[], retained?: ReadonlySet<string>) {
    this.retainedAsked.push([...(retained ?? [])]);
    const found = new Map<string, StoredEventItem>();
    for (const id of ids)
      if (typeof id === 'string' && this.events.has(id)) found.set(id, this.events.get(id)!);
    return found;
  }

  // What someone with write access to the tables does.
  bySeq(seq: number) {
    return this.events.get(this.records.get(seq)!.eventId)!;
  }
  rechain(fromSeq: number, change: (r: Record<string, any>) => Record<string, any> = (r) => r) {
    let prevHash = fromSeq > 1 ? this.records.get(fromSeq - 1)!.hash : GENESIS_HASH;
    for (const seq of [...this.records.keys()].sort((a, b) => a - b).filter((s) => s >= fromSeq)) {
      const record = change({ ...this.records.get(seq)!, prevHash });
      record.hash = chainHash(record.prevHash, chainRecordContent(record));
      this.records.set(seq, record);
      prevHash = record.hash;
    }
  }
  forgeHead() {
    const seqs = [...this.records.keys()].sort((a, b) => a - b);
    const last = this.records.get(seqs.at(-1)!)!;
    const fromSeq = this.head!.fromSeq;
    this.head = {
      ...this.head,
      seq: last.seq,
      hash: last.hash,
      hashes: seqs.filter((s) => s >= fromSeq).map((s) => this.records.get(s)!.hash),
      mac: Buffer.alloc(32, 9).toString('base64'),
    };
  }
}

async function logOf(batches: number[]) {
  const log = new MemoryLog();
  let n = 0;
  for (const size of batches) await log.append(Array.from({ length: size }, () => event(++n)));
  return log;
}

describe('verifyChain', () => {
  it('proves an intact chain with a single MAC check', async () => {
    // Prepare: a chain of eight records, and a MAC check that counts
    const log = await logOf([3, 3, 2]);
    let checks = 0;
    const counting = {
      verify: async (m: string, t: string) => {
        checks++;
        return log.mac.verify(m, t);
      },
    };

    // Act
    const outcome = await verifyChain(log, counting, NOW + 1000);

    // Assess
    expect(outcome).toMatchObject({ ok: true, checked: 8, complete: true, head: { seq: 8 } });
    expect(outcome.authenticHead).toMatchObject({ seq: 8, hash: log.head!.hash });
    expect(checks).toBe(1);
  });

  it('accepts an empty log and reports a log whose head was deleted', async () => {
    // Act / Assess: an empty log
    expect(await new MemoryLog().verify()).toMatchObject({ ok: true, checked: 0, head: { seq: 0 } });

    // Prepare: a log whose head is deleted
    const log = await logOf([2]);
    log.head = undefined;

    // Act / Assess
    expect(await log.verify()).toMatchObject({ ok: false, firstBrokenSequence: 1, reason: 'head-mismatch' });
  });

  it('fails closed when the MAC cannot be checked (KMS throttled or down): an error, not a verdict', async () => {
    // Prepare: KMS throttles
    const log = await logOf([2]);
    const down = {
      verify: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    };

    // Act / Assess
    await expect(verifyChain(log, down, NOW + 1000)).rejects.toThrow('Rate exceeded');
  });

  it('never believes a head whose MAC was made with another key', async () => {
    // Prepare: a head with the MAC of another log's key
    const log = await logOf([3]);
    const other = await logOf([3]);
    log.head = { ...log.head, mac: other.head!.mac };

    // Act / Assess
    expect(await log.verify()).toMatchObject({
      ok: false,
      reason: 'head-not-authentic',
      firstBrokenSequence: 4,
    });
  });

  it('names exactly the sequence of any single tampering whose evidence survives (property)', async () => {
    // Act / Assess: for any batches, position and attack, the first broken sequence is the tampered one
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(
          'edit-event',
          'delete-event',
          'delete-record',
          'rewrite-rechain-forged-head',
          'rewrite-rechain-replayed-head',
          'delete-event-expire-rechain',
          'truncate-start',
        ),
        async (batches, a, b, attack) => {
          const log = await logOf(batches);
          const length = log.records.size;
          const i = (a % length) + 1;
          let expected = i;
          const rewrite = () => {
            const forged = { ...log.bySeq(i), details: { forged: true } };
            log.events.set(forged.id, forged);
            log.rechain(i, (r) => (r.seq === i ? { ...r, eventDigest: eventDigest(forged) } : r));
          };
          switch (attack) {
            case 'edit-event':
              log.events.set(log.bySeq(i).id, { ...log.bySeq(i), action: 'member.removed' });
              break;
            case 'delete-event':
              log.events.delete(log.bySeq(i).id);
              break;
            case 'delete-record':
              log.records.delete(i);
              break;
            case 'rewrite-rechain-forged-head':
              rewrite();
              log.forgeHead();
              break;
            case 'rewrite-rechain-replayed-head':
              rewrite();
              log.head = log.heads[b % log.heads.length];
              break;
            case 'delete-event-expire-rechain':
              log.events.delete(log.bySeq(i).id);
              log.rechain(i, (r) => (r.seq === i ? { ...r, eventExpiresAt: 0 } : r));
              log.forgeHead();
              break;
            case 'truncate-start':
              for (let seq = 1; seq <= i; seq++) log.records.delete(seq);
              if (i === length) log.records.set(length, { ...log.heads.at(-1) });
              expected = 1;
              break;
          }
          const outcome = await log.verify();
          expect(outcome.ok, attack).toBe(false);
          expect(outcome.firstBrokenSequence, `${attack} at ${i} of ${batches}`).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
    // 300 chains built and walked: about a second on a quiet machine, several on a loaded one.
  }, 30_000);

  it('accepts events and records past their hashed expiry being gone, in any order (property)', async () => {
    // Act / Assess: whichever records past their expiry are deleted, the log verifies
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), async (deleted) => {
        // Six events on day 0, six on day 200; on day 396 the first six records and all events expired.
        const log = new MemoryLog();
        await log.append(Array.from({ length: 6 }, (_, n) => event(n + 1)));
        await log.append(
          Array.from({ length: 6 }, (_, n) => event(n + 7, NOW + 200 * DAY_MS + n)),
          NOW + 200 * DAY_MS,
        );
        log.events.clear();
        deleted.forEach((gone, n) => {
          if (gone && n < 6) log.records.delete(n + 1);
        });
        expect(await log.verify(NOW + 396 * DAY_MS)).toMatchObject({ ok: true, complete: true });
      }),
    );
  });

  it('looks events up one by one only while their records say they are retained', async () => {
    // Prepare: four events kept 30 days, two kept 90; on day 40 the first four have expired.
    const log = new MemoryLog();
    await log.append([1, 2, 3, 4].map((n) => event(n)));
    await log.append([5, 6].map((n) => event(n, NOW + n, 90)));
    for (const seq of [1, 2, 3, 4]) log.events.delete(log.records.get(seq)!.eventId);

    // Act
    const outcome = await log.verify(NOW + 40 * DAY_MS);

    // Assess
    expect(outcome).toMatchObject({ ok: true, checked: 6 });
    expect(log.retainedAsked.flat().sort()).toEqual(
      [5, 6].map((seq) => log.records.get(seq)!.eventId).sort(),
    );
  });

  it('starts after the newest checkpoint before which every event expired, and pages from there', async () => {
    // Prepare: day 0 and day 100 batches, a checkpoint after each; on day 120 the first batch's events
    // (30 days) have expired, the second's have not.
    const log = new MemoryLog();
    await log.append([event(1), event(2), event(3)]);
    await log.checkpoint(NOW + DAY_MS);
    await log.append(
      [4, 5, 6].map((n) => event(n, NOW + 100 * DAY_MS + n)),
      NOW + 100 * DAY_MS,
    );
    await log.checkpoint(NOW + 101 * DAY_MS);
    for (const seq of [1, 2, 3]) log.records.delete(seq);

    // Act
    const full = await log.verify(NOW + 120 * DAY_MS);
    const fromCheckpoint = await log.verify(NOW + 120 * DAY_MS, { from: 'checkpoint' });

    // Assess
    expect(full).toMatchObject({ ok: true, checked: 3, from: { seq: 3, checkpoint: '2026-11-23' } });
    expect(fromCheckpoint).toMatchObject({ ok: true, checked: 0, from: { seq: 6 } });
  });

  it('reports a forged checkpoint, and a head behind an authentic one', async () => {
    // Prepare: a checkpoint whose MAC is another log's
    const log = await logOf([2, 2]);
    await log.checkpoint(NOW + DAY_MS);
    const forged = await logOf([2, 2]);
    await forged.checkpoint(NOW + DAY_MS);
    const original = log.checkpoints[0]!;
    log.checkpoints = [{ ...original, mac: forged.checkpoints[0]!.mac }];

    // Act / Assess
    expect(await log.verify()).toMatchObject({ ok: false, reason: 'checkpoint-not-authentic' });

    // Prepare: the authentic checkpoint, and the head rolled back behind it
    log.checkpoints = [original];
    log.head = log.heads[0];
    log.records.delete(3);
    log.records.delete(4);

    // Act / Assess
    expect(await log.verify()).toMatchObject({
      ok: false,
      firstBrokenSequence: 3,
      reason: 'head-rolled-back',
    });
  });
});

describe('KmsChainMac', () => {
  const kms = new KMSClient({ region: 'eu-central-1' });
  const mock = mockClient(kms);
  const mac = new KmsChainMac({ kms, keyId: 'arn:aws:kms:eu-central-1:111122223333:key/mac' });
  const tag = Buffer.alloc(32, 3);

  it('generates HMAC-SHA-256 with the audit key', async () => {
    // Prepare
    mock.reset();
    mock.on(GenerateMacCommand).resolves({ Mac: tag });

    // Act
    expect(await mac.generate('m')).toBe(tag.toString('base64'));

    // Assess
    expect(mock).toHaveReceivedCommandWith(GenerateMacCommand, {
      KeyId: 'arn:aws:kms:eu-central-1:111122223333:key/mac',
      MacAlgorithm: 'HMAC_SHA_256',
      Message: Buffer.from('m'),
    });
  });

  it('answers false for an invalid MAC, without asking KMS about one that cannot be a tag, and throws on outages', async () => {
    // Prepare: KMS says invalid
    mock.reset();
    mock.on(VerifyMacCommand).rejects(new KMSInvalidMacException({ message: 'invalid', $metadata: {} }));

    // Act / Assess: an invalid tag, and two that cannot be tags (not asked)
    expect(await mac.verify('m', tag.toString('base64'))).toBe(false);
    expect(await mac.verify('m', 'short')).toBe(false);
    expect(await mac.verify('m', `${tag.toString('base64')}x`)).toBe(false);
    expect(mock).toHaveReceivedCommandTimes(VerifyMacCommand, 1);

    // Act / Assess: a valid tag
    mock.on(VerifyMacCommand).resolves({ MacValid: true });
    expect(await mac.verify('m', tag.toString('base64'))).toBe(true);

    // Act / Assess: an outage
    mock.on(VerifyMacCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(mac.verify('m', tag.toString('base64'))).rejects.toThrow('slow down');
  });
});
