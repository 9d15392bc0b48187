import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendToChain,
  CanonicalJsonError,
  CHAIN_RETENTION_DAYS,
  ChainWalker,
  canonicalJson,
  chainHash,
  chainRecordContent,
  chainSk,
  checkpointOf,
  EMPTY_HEAD,
  eventDigest,
  GENESIS_HASH,
  HEAD_STATEMENT,
  locateFirstUnproven,
  MAX_EVENT_RETENTION_DAYS,
  macMessage,
  parseChainRecord,
  parseCheckpointStatement,
  parseHeadStatement,
  pendingWindowStart,
  retentionDaysFor,
  type Sighting,
  type StoredEventItem,
  seqOfChainSk,
  ttlFor,
  ulidCeil,
  ulidFloor,
  ulidTimeMs,
  unmarked,
  wellFormed,
} from '../../../shared/domain/audit-chain.js';
import { ulid } from '../../../shared/domain/ids.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const LOG = 't_01jabcdefghjkmnpqrstvwxyz0';

function event(n: number, atMs = NOW + n, ttl = ttlFor(atMs, 30)): StoredEventItem & { sk: string } {
  const id = ulid(atMs);
  return {
    pk: LOG,
    sk: `EVENT#${id}`,
    id: `e_${id}`,
    logId: LOG,
    time: new Date(atMs).toISOString(),
    action: 'member.added',
    actor: { userId: 'u_01jabcdefghjkmnpqrstvwxyz0', ip: '10.0.0.1', userAgent: 'test' },
    resource: { type: 'member', id: `u_${n}` },
    details: { n, after: { role: 'viewer' } },
    ttl,
  };
}

function chainOf(events: StoredEventItem[], nowMs = NOW) {
  return appendToChain(EMPTY_HEAD, LOG, events, nowMs);
}

const S = (ms: number) => Math.floor(ms / 1000);

describe('canonicalJson', () => {
  it('sorts keys, drops undefined members and writes no whitespace', () => {
    // Prepare
    const value = { b: 1, a: { d: [1, 'x', null, true], c: undefined }, é: 'é', A: false };

    // Act
    const text = canonicalJson(value);

    // Assess
    expect(text).toBe('{"A":false,"a":{"d":[1,"x",null,true]},"b":1,"é":"é"}');
  });

  it('encodes numbers in shortest round-trip form and -0 as 0', () => {
    // Act / Assess
    expect(canonicalJson([0.1, 1.5, -0, 1.5e-7, 2 ** 53 - 1, -5, 123.456])).toBe(
      '[0.1,1.5,0,1.5e-7,9007199254740991,-5,123.456]',
    );
  });

  it('escapes only what JSON requires in strings', () => {
    // Act / Assess
    expect(canonicalJson('a"\\\n\u0001\u2028😀')).toBe('"a\\"\\\\\\n\\u0001\u2028😀"');
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['unsafe integer', 2 ** 60],
    ['huge float', 1e21],
    ['Date', new Date(0)],
    ['BigInt', 1n],
    ['Map', new Map()],
    ['function', () => 1],
    ['lone surrogate', 'a\uD800b'],
    ['undefined array element', [1, undefined]],
    ['deep nesting', JSON.parse('['.repeat(20) + ']'.repeat(20))],
  ])('refuses %s', (_name, value) => {
    // Act / Assess
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it('is independent of key insertion order (property)', () => {
    // Act / Assess: for any dictionary of JSON values
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), (dict) => {
        const clean = JSON.parse(JSON.stringify(wellFormed(dict)), (_k, v) =>
          typeof v === 'number' && Math.abs(v) > Number.MAX_SAFE_INTEGER ? String(v) : v,
        );
        const reversed = Object.fromEntries(Object.entries(clean).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(clean));
        // Canonical JSON is JSON that parses back to an equal value.
        expect(JSON.parse(canonicalJson(clean))).toEqual(clean);
      }),
    );
  });

  it('wellFormed replaces lone surrogates so the value can be canonicalised', () => {
    // Act / Assess
    expect(canonicalJson(wellFormed({ 'k\uDC00': ['x\uD800'] }))).toBe('{"k\uFFFD":["x\uFFFD"]}');
  });
});

describe('chainHash', () => {
  it('is SHA-256 of prevHash followed by the canonical event', () => {
    // Prepare
    const content = { b: 2, a: 1 };
    const expected = createHash('sha256').update(`${GENESIS_HASH}{"a":1,"b":2}`).digest('hex');

    // Act / Assess
    expect(chainHash(GENESIS_HASH, content)).toBe(expected);
    expect(chainHash(expected, content)).not.toBe(expected);
  });

  it('refuses a prevHash that is not a hex digest', () => {
    // Act / Assess
    expect(() => chainHash('abc', {})).toThrow(CanonicalJsonError);
  });
});

describe('keys and retention', () => {
  it('maps plans to TTLs (free 30, team 90, enterprise 365; unknown keeps longest)', () => {
    // Act / Assess
    expect(retentionDaysFor('free')).toBe(30);
    expect(retentionDaysFor('team')).toBe(90);
    expect(retentionDaysFor('enterprise')).toBe(365);
    expect(retentionDaysFor(undefined)).toBe(365);
    expect(ttlFor(NOW, 30)).toBe(NOW / 1000 + 30 * 86_400);
  });

  it('pads chain sequence keys so they sort numerically', () => {
    // Act / Assess
    expect(chainSk(2) < chainSk(10)).toBe(true);
    expect(seqOfChainSk(chainSk(123))).toBe(123);
    expect(seqOfChainSk('CHAIN#12')).toBeUndefined();
  });

  it('decodes ULID time and builds range bounds around it', () => {
    // Prepare
    const id = ulid(NOW);

    // Act / Assess
    expect(ulidTimeMs(id)).toBe(NOW);
    expect(ulidFloor(NOW) <= id && id <= ulidCeil(NOW)).toBe(true);
    expect(ulidCeil(NOW - 1) < id).toBe(true);
  });

  it('starts the pending window a grace period before the watermark', () => {
    // Act / Assess
    expect(pendingWindowStart(EMPTY_HEAD, 1000)).toBe('');
    const head = { ...EMPTY_HEAD, watermark: ulid(NOW) };
    expect(pendingWindowStart(head, 60_000)).toBe(ulidFloor(NOW - 60_000));
    expect(unmarked(['a', 'b', 'c'], new Set(['b']))).toEqual(['a', 'c']);
  });
});

describe('appendToChain', () => {
  it('assigns consecutive sequences, each hashing its whole content after the previous hash', () => {
    // Prepare
    const events = [event(1), event(2), event(3)];

    // Act
    const { records, head, statement } = chainOf(events);

    // Assess
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]!.prevHash).toBe(GENESIS_HASH);
    expect(records[1]!.prevHash).toBe(records[0]!.hash);
    for (const r of records) expect(r.hash).toBe(chainHash(r.prevHash, chainRecordContent({ ...r })));
    expect(records[2]).toMatchObject({
      v: 1,
      logId: LOG,
      eventId: events[2]!.id,
      eventDigest: eventDigest(events[2]!),
      eventExpiresAt: events[2]!.ttl,
      chainedAtMs: NOW,
      expiresAt: S(NOW) + CHAIN_RETENTION_DAYS * 86_400,
      prevExpiresAt: S(NOW) + CHAIN_RETENTION_DAYS * 86_400,
      batchStartSeq: 1,
      batchPrevExpiresAt: 0,
    });
    expect(records[0]!.prevExpiresAt).toBe(0);
    expect(head).toMatchObject({ seq: 3, hash: records[2]!.hash, watermark: events[2]!.sk.slice(6) });
    expect(head.maxEventExpiresAt).toBe(Math.max(...events.map((e) => e.ttl)));
    expect(statement).toMatchObject({ type: HEAD_STATEMENT, logId: LOG, seq: 3, fromSeq: 1 });
    expect(statement.hashes).toEqual(records.map((r) => r.hash));
  });

  it('hashes the event content digest, so any change to the event changes nothing but its digest', () => {
    // Prepare
    const e = event(1);

    // Act / Assess: the digest of the event without its keys; changed by its content, not by its keys
    expect(eventDigest(e)).toBe(
      createHash('sha256')
        .update(canonicalJson({ ...e, pk: undefined, sk: undefined }))
        .digest('hex'),
    );
    expect(eventDigest({ ...e, ttl: e.ttl + 1 })).not.toBe(eventDigest(e));
    expect(eventDigest({ ...e, pk: 'other', sk: 'other' })).toBe(eventDigest(e));
  });

  it('caps an event’s hashed expiry at the longest retention after chaining, and takes a bad TTL as that cap', () => {
    // Prepare: an expiry past the cap, a TTL that is not a number, a short one
    const cap = S(NOW) + MAX_EVENT_RETENTION_DAYS * 86_400;

    // Act
    const { records } = chainOf([
      event(1, NOW, cap + 999),
      { ...event(2), ttl: 'never' as never },
      event(3, NOW, 5),
    ]);

    // Assess
    expect(records.map((r) => r.eventExpiresAt)).toEqual([cap, cap, 5]);
  });

  it('continues from a head: batch fields, previous expiry, and chain time that never goes backwards', () => {
    // Prepare
    const first = chainOf([event(1)], NOW);

    // Act: two events chained after the head, with a clock behind it
    const second = appendToChain(first.head, LOG, [event(2), event(3)], NOW - 60_000);

    // Assess
    expect(second.records[0]).toMatchObject({
      seq: 2,
      prevHash: first.head.hash,
      prevExpiresAt: first.head.expiresAt,
      batchStartSeq: 2,
      batchPrevExpiresAt: first.head.expiresAt,
    });
    expect(second.records[1]).toMatchObject({ batchStartSeq: 2, batchPrevExpiresAt: first.head.expiresAt });
    expect(second.head.chainedAtMs).toBe(NOW);
    // The statement covers this batch and the one before it.
    expect(second.statement).toMatchObject({ batchStartSeq: 2, fromSeq: 1 });
    expect(second.statement.hashes).toEqual([first.records[0]!.hash, ...second.records.map((r) => r.hash)]);

    // Act / Assess: a third batch's statement covers it and the one before
    const third = appendToChain(second.head, LOG, [event(4)], NOW);
    expect(third.statement).toMatchObject({ batchStartSeq: 4, fromSeq: 2 });
    expect(third.statement.hashes).toHaveLength(3);
  });

  it('keeps the watermark at the largest id even when a late, older event is chained', () => {
    // Prepare: a newer event chained before a late, older one
    const newer = event(5, NOW);
    const late = event(6, NOW - 30_000);

    // Act
    const { head } = chainOf([newer, late]);

    // Assess
    expect(head.watermark).toBe(newer.sk.slice(6));
  });
});

describe('statements', () => {
  const { statement, records } = chainOf([event(1), event(2)]);

  it('parse back exactly as written and refuse anything else', () => {
    // Act / Assess: a head statement as written, and changed in each way
    expect(parseHeadStatement({ ...statement, mac: 'x', pk: LOG, sk: 'HEAD' }, LOG)).toEqual(statement);
    expect(parseHeadStatement(statement, 't_0000000000000000000000000z')).toBeUndefined();
    expect(parseHeadStatement({ ...statement, hashes: statement.hashes.slice(1) }, LOG)).toBeUndefined();
    expect(parseHeadStatement({ ...statement, hash: 'a'.repeat(64) }, LOG)).toBeUndefined();
    expect(parseHeadStatement({ ...statement, v: 2 }, LOG)).toBeUndefined();

    // Act / Assess: a checkpoint, and a record
    const checkpoint = checkpointOf(LOG, { ...statement }, NOW);
    expect(parseCheckpointStatement({ ...checkpoint, mac: 'x', ttl: 1 }, LOG)).toEqual(checkpoint);
    expect(parseCheckpointStatement({ ...checkpoint, day: 'today' }, LOG)).toBeUndefined();
    expect(parseChainRecord({ ...records[0]!, seq: -1 })).toBeUndefined();
  });

  it('are MAC’d as their type and the SHA-256 of their canonical JSON (KMS takes at most 4096 bytes)', () => {
    // Act
    const message = macMessage(statement);

    // Assess
    expect(message).toBe(
      `${HEAD_STATEMENT}:${createHash('sha256').update(canonicalJson(statement)).digest('hex')}`,
    );
    expect(macMessage({ ...statement, watermark: 'x' })).not.toBe(message);

    // Act / Assess: the largest statement's message fits KMS
    const full = chainOf(Array.from({ length: 49 }, (_, i) => event(i + 1)));
    const big = appendToChain(
      full.head,
      LOG,
      Array.from({ length: 49 }, (_, i) => event(i + 50)),
      NOW,
    ).statement;
    expect(Buffer.byteLength(macMessage(big))).toBeLessThan(4096);
    expect(Buffer.byteLength(canonicalJson(big))).toBeGreaterThan(3000);
  });
});

describe('ChainWalker', () => {
  const events = Array.from({ length: 6 }, (_, i) => event(i + 1));
  const { records, statement } = chainOf(events);
  const byId = new Map(events.map((e) => [e.id, e]));
  const walk = (list: object[], found = byId, nowMs = NOW) => {
    const walker = new ChainWalker(LOG, nowMs);
    for (const item of list) {
      const r = item as Record<string, unknown>;
      walker.push({ seq: r.seq as number, record: r, event: found.get(r.eventId as string) });
    }
    return walker;
  };

  it('walks an intact chain and sights its seal', () => {
    // Prepare: a seal on record 6
    const sealed = records.map((r, i) => (i === 5 ? { ...r, seal: { ...statement, mac: 'm' } } : r));

    // Act
    const walker = walk(sealed);

    // Assess
    expect(walker.broken).toBeUndefined();
    expect(walker.checked).toBe(6);
    expect(walker.sightings).toEqual([
      { seq: 6, consistent: true, matchedThrough: 6, message: macMessage(statement), mac: 'm' },
    ]);
  });

  it('reports an edited event, an extra attribute, a deleted event, another log’s event', () => {
    // Act / Assess: each tampering of the events
    const edited = new Map(byId).set(events[3]!.id, { ...events[3]!, details: { n: 999 } });
    expect(walk(records, edited).broken).toEqual({ seq: 4, reason: 'hash-mismatch' });
    const extra = new Map(byId).set(events[1]!.id, { ...events[1]!, note: 'added later' });
    expect(walk(records, extra).broken).toEqual({ seq: 2, reason: 'hash-mismatch' });
    const missing = new Map(byId);
    missing.delete(events[4]!.id);
    expect(walk(records, missing).broken).toEqual({ seq: 5, reason: 'missing-event' });
    const foreign = new Map(byId).set(events[0]!.id, {
      ...events[0]!,
      logId: 't_0000000000000000000000000z',
    });
    expect(walk(records, foreign).broken).toEqual({ seq: 1, reason: 'wrong-event' });
  });

  it('accepts a missing event once its hashed expiry has passed, whatever TTL attributes say', () => {
    // Prepare: event 3 deleted
    const missing = new Map(byId);
    missing.delete(events[2]!.id);

    // Act / Assess: past its hashed expiry
    const later = (events[2]!.ttl + 1) * 1000;
    expect(walk(records, missing, later).broken).toBeUndefined();

    // Act / Assess: TTL attributes that claim it expired
    const lying = records.map((r) => ({ ...r, ttl: 0, eventTtl: 0 }));
    expect(walk(lying, missing).broken).toEqual({ seq: 3, reason: 'missing-event' });
  });

  it('reports an edited record field (hash, expiry, sequence) where it is', () => {
    // Act / Assess: each field of record 4 changed
    for (const change of [
      { hash: 'f'.repeat(64) },
      { eventExpiresAt: 1 },
      { prevExpiresAt: 1 },
      { batchStartSeq: 2 },
    ])
      expect(
        walk(records.map((r) => (r.seq === 4 ? { ...r, ...change } : r))).broken,
        JSON.stringify(change),
      ).toEqual({
        seq: 4,
        reason: 'hash-mismatch',
      });

    // Act / Assess: record 5 renumbered
    const renumbered = new ChainWalker(LOG, NOW);
    for (const r of records)
      renumbered.push({
        seq: r.seq,
        record: { ...r, ...(r.seq === 5 ? { seq: 7 } : {}) },
        event: byId.get(r.eventId),
      });
    expect(renumbered.broken).toEqual({ seq: 5, reason: 'bad-sequence' });

    // Act / Assess: record 4 relinked to the start and rehashed
    const relinked = records
      .map((r) => (r.seq === 4 ? { ...r, prevHash: GENESIS_HASH } : r))
      .map((r) => (r.seq === 4 ? { ...r, hash: chainHash(r.prevHash, chainRecordContent({ ...r })) } : r));
    expect(walk(relinked).broken).toEqual({ seq: 4, reason: 'broken-link' });
  });

  it('reports a record that is well-hashed but impossible: expiry not derived from its chaining time', () => {
    // Prepare: a well-hashed record with an expiry one second off
    const forged = { ...records[0]!, expiresAt: records[0]!.expiresAt + 1 };
    forged.hash = chainHash(forged.prevHash, chainRecordContent(forged));

    // Act / Assess
    expect(walk([forged]).broken).toEqual({ seq: 1, reason: 'bad-record' });
  });

  it('reports an event chained twice', () => {
    // Prepare
    const { records: twice } = chainOf([events[0]!, events[1]!, events[0]!]);

    // Act / Assess
    expect(walk(twice).broken).toEqual({ seq: 3, reason: 'duplicate-event' });
  });

  it('reports missing records that have not expired, and accepts them once the record after says so', () => {
    // Act / Assess: record 3 missing; the start missing
    expect(walk(records.filter((r) => r.seq !== 3)).broken).toEqual({
      seq: 3,
      reason: 'missing-chain-record',
    });
    expect(walk(records.slice(2)).broken).toEqual({ seq: 1, reason: 'missing-chain-record' });

    // Act / Assess: once record 1 has expired, the gap is excused by record 3
    const later = (records[0]!.expiresAt + 1) * 1000;
    const walker = walk(records.slice(2), new Map(), later);
    expect(walker.broken).toBeUndefined();
    expect(walker.gaps).toEqual([{ from: 1, excusedBy: 3 }]);
  });

  it('names the first retained record of a gap: the start of a batch whose predecessor expired', () => {
    // Prepare: batch 1..3 on day 0; batch 4..6 on day 100. On day 396 batch 1 has expired, batch 2 has not.
    const first = chainOf(events.slice(0, 3), NOW);
    const second = appendToChain(first.head, LOG, events.slice(3), NOW + 100 * 86_400_000);
    const day396 = NOW + 396 * 86_400_000;

    // Act / Assess
    expect(walk(second.records.slice(1), new Map(), day396).broken).toEqual({
      seq: 4,
      reason: 'missing-chain-record',
    });

    // Act / Assess: record 1 not yet deleted by TTL, 2..4 gone: 2 and 3 expired with batch 1, 4 did not.
    const mixed = [...first.records.slice(0, 1), ...second.records.slice(1)];
    expect(walk(mixed, new Map(), day396).broken).toEqual({ seq: 4, reason: 'missing-chain-record' });

    // Act / Assess: on day 200 nothing has expired: the whole gap is retained.
    expect(walk(mixed, new Map(), NOW + 200 * 86_400_000).broken).toEqual({
      seq: 2,
      reason: 'missing-chain-record',
    });
  });
});

describe('locateFirstUnproven', () => {
  const s = (seq: number, consistent: boolean, extra: Partial<Sighting> = {}): Sighting => ({
    seq,
    consistent,
    ...(consistent ? { matchedThrough: seq } : { firstMismatch: seq - 1 }),
    message: `m${seq}`,
    mac: `t${seq}`,
    ...extra,
  });

  it('proves everything with one MAC check when the last statement is consistent and authentic', async () => {
    // Prepare
    const checked: number[] = [];

    // Act
    const proof = await locateFirstUnproven([s(3, true), s(6, true), s(9, true)], 0, async (x) => {
      checked.push(x.seq);
      return true;
    });

    // Assess
    expect(proof).toEqual({ provenThrough: 9 });
    expect(checked).toEqual([9]);
  });

  it('names the exact record from the first authentic statement that disagrees', async () => {
    // Prepare: statements 9 and 12 disagree, from records 7 and 10
    const list = [
      s(3, true),
      s(6, true),
      s(9, false, { firstMismatch: 7 }),
      s(12, false, { firstMismatch: 10 }),
    ];

    // Act / Assess
    expect(await locateFirstUnproven(list, 0, async () => true)).toEqual({
      provenThrough: 6,
      firstUnproven: { seq: 7, exact: true },
    });
  });

  it('falls back to the first sequence after the last proven one when the disagreeing statement is forged', async () => {
    // Prepare
    const list = [s(3, true), s(6, true), s(9, true)];

    // Act / Assess: statements after 3 are forged
    expect(await locateFirstUnproven(list, 0, async (x) => x.seq <= 3)).toEqual({
      provenThrough: 3,
      firstUnproven: { seq: 4, exact: false },
    });

    // Act / Assess: no statement at all
    expect(await locateFirstUnproven([], 5, async () => true)).toEqual({ provenThrough: 5 });
  });
});
