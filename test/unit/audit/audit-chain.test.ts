import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHAIN_RETENTION_DAYS,
  CanonicalJsonError,
  ChainVerifier,
  EMPTY_HEAD,
  GENESIS_HASH,
  type ChainRecord,
  type StoredEventItem,
  appendToChain,
  canonicalJson,
  chainHash,
  chainSk,
  pendingWindowStart,
  retentionDaysFor,
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
  return appendToChain(EMPTY_HEAD, events, nowMs);
}

function verify(
  records: ChainRecord[],
  events: Map<string, StoredEventItem>,
  head = undefined as any,
  nowMs = NOW,
) {
  const verifier = new ChainVerifier(LOG, nowMs);
  for (const record of records) verifier.push({ seq: record.seq, record, event: events.get(record.eventId) });
  return verifier.finish(head);
}

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
    expect(canonicalJson([0.1, 1.5, -0, 1.5e-7, 2 ** 53 - 1, -5, 123.456])).toBe(
      '[0.1,1.5,0,1.5e-7,9007199254740991,-5,123.456]',
    );
  });

  it('escapes only what JSON requires in strings', () => {
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
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it('is independent of key insertion order (property)', () => {
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
    expect(() => chainHash('abc', {})).toThrow(CanonicalJsonError);
  });
});

describe('keys and retention', () => {
  it('maps plans to TTLs (free 30, team 90, enterprise 365; unknown keeps longest)', () => {
    expect(retentionDaysFor('free')).toBe(30);
    expect(retentionDaysFor('team')).toBe(90);
    expect(retentionDaysFor('enterprise')).toBe(365);
    expect(retentionDaysFor(undefined)).toBe(365);
    expect(ttlFor(NOW, 30)).toBe(NOW / 1000 + 30 * 86_400);
  });

  it('pads chain sequence keys so they sort numerically', () => {
    expect(chainSk(2) < chainSk(10)).toBe(true);
    expect(seqOfChainSk(chainSk(123))).toBe(123);
    expect(seqOfChainSk('CHAIN#12')).toBeUndefined();
  });

  it('decodes ULID time and builds range bounds around it', () => {
    const id = ulid(NOW);
    expect(ulidTimeMs(id)).toBe(NOW);
    expect(ulidFloor(NOW) <= id && id <= ulidCeil(NOW)).toBe(true);
    expect(ulidCeil(NOW - 1) < id).toBe(true);
  });

  it('starts the pending window a grace period before the watermark', () => {
    expect(pendingWindowStart(EMPTY_HEAD, 1000)).toBe('');
    const head = { ...EMPTY_HEAD, watermark: ulid(NOW) };
    expect(pendingWindowStart(head, 60_000)).toBe(ulidFloor(NOW - 60_000));
    expect(unmarked(['a', 'b', 'c'], new Set(['b']))).toEqual(['a', 'c']);
  });
});

describe('appendToChain', () => {
  it('assigns consecutive sequences linked by hashes and moves the head', () => {
    // Prepare
    const events = [event(1), event(2), event(3)];

    // Act
    const { records, head } = chainOf(events);

    // Assess
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]!.prevHash).toBe(GENESIS_HASH);
    expect(records[1]!.prevHash).toBe(records[0]!.hash);
    const { pk: _pk, sk: _sk, ...content } = events[2]!;
    expect(records[2]!.hash).toBe(chainHash(records[1]!.hash, content));
    expect(head).toMatchObject({ seq: 3, hash: records[2]!.hash, watermark: events[2]!.sk.slice(6) });
    expect(records[0]!.ttl).toBe(ttlFor(NOW, CHAIN_RETENTION_DAYS));
  });

  it('continues from a head and never lets chain time go backwards', () => {
    const first = chainOf([event(1)], NOW);
    const second = appendToChain(first.head, [event(2)], NOW - 60_000);
    expect(second.records[0]).toMatchObject({
      seq: 2,
      prevHash: first.head.hash,
      prevTtl: first.head.lastTtl,
    });
    expect(second.head.chainedAtMs).toBe(NOW);
  });

  it('keeps the watermark at the largest id even when a late, older event is chained', () => {
    const newer = event(5, NOW);
    const late = event(6, NOW - 30_000);
    const { head } = chainOf([newer, late]);
    expect(head.watermark).toBe(newer.sk.slice(6));
  });
});

describe('ChainVerifier', () => {
  const events = Array.from({ length: 6 }, (_, i) => event(i + 1));
  const { records, head } = chainOf(events);
  const byId = new Map(events.map((e) => [e.id, e]));

  it('accepts an intact chain', () => {
    expect(verify(records, byId, head)).toEqual({ ok: true, checked: 6 });
  });

  it('accepts an empty log', () => {
    expect(verify([], new Map(), undefined)).toEqual({ ok: true, checked: 0 });
  });

  it('reports an edited event at its sequence', () => {
    const edited = new Map(byId);
    edited.set(events[3]!.id, { ...events[3]!, details: { n: 999 } });
    expect(verify(records, edited, head)).toMatchObject({
      ok: false,
      firstBrokenSequence: 4,
      reason: 'hash-mismatch',
      checked: 3,
    });
  });

  it('reports an event given extra attributes', () => {
    const edited = new Map(byId);
    edited.set(events[1]!.id, { ...events[1]!, note: 'added later' });
    expect(verify(records, edited, head)).toMatchObject({ firstBrokenSequence: 2 });
  });

  it('reports a deleted (unexpired) event', () => {
    const missing = new Map(byId);
    missing.delete(events[4]!.id);
    expect(verify(records, missing, head)).toMatchObject({ firstBrokenSequence: 5, reason: 'missing-event' });
  });

  it('accepts a missing event whose retention has passed', () => {
    const expired = events.map((e, i) => (i === 2 ? { ...e, ttl: Math.floor(NOW / 1000) - 1 } : e));
    const chain = chainOf(expired);
    const gone = new Map(expired.map((e) => [e.id, e]));
    gone.delete(expired[2]!.id);
    expect(verify(chain.records, gone, chain.head)).toEqual({ ok: true, checked: 6 });
  });

  it('reports swapped events (reordering) at the first swapped sequence', () => {
    const swapped = records.map((r) => ({ ...r }));
    [swapped[1]!.eventId, swapped[3]!.eventId] = [swapped[3]!.eventId, swapped[1]!.eventId];
    expect(verify(swapped, byId, head)).toMatchObject({ firstBrokenSequence: 2 });
  });

  it('reports a deleted chain record in the middle', () => {
    const gap = records.filter((r) => r.seq !== 3);
    expect(verify(gap, byId, head)).toMatchObject({ firstBrokenSequence: 3, reason: 'missing-chain-record' });
  });

  it('reports a deleted last chain record against the head', () => {
    expect(verify(records.slice(0, 5), byId, head)).toMatchObject({ firstBrokenSequence: 6 });
  });

  it('reports a deleted first chain record that had not expired', () => {
    expect(verify(records.slice(1), byId, head)).toMatchObject({ firstBrokenSequence: 1 });
  });

  it('accepts a chain whose first records expired', () => {
    const later = NOW + (CHAIN_RETENTION_DAYS + 1) * 86_400_000;
    const first = chainOf(events.slice(0, 3), NOW);
    const rest = appendToChain(first.head, events.slice(3), later);
    const liveEvents = new Map(events.slice(3).map((e) => [e.id, e]));
    expect(verify(rest.records, liveEvents, rest.head, later + 1000)).toEqual({ ok: true, checked: 3 });
  });

  it('reports an edited chain hash, prevHash or sequence attribute', () => {
    const hash = records.map((r) => (r.seq === 2 ? { ...r, hash: 'f'.repeat(64) } : r));
    expect(verify(hash, byId, head)).toMatchObject({ firstBrokenSequence: 2 });
    const prev = records.map((r) => (r.seq === 4 ? { ...r, prevHash: GENESIS_HASH } : r));
    expect(verify(prev, byId, head)).toMatchObject({ firstBrokenSequence: 4, reason: 'broken-link' });
    const verifier = new ChainVerifier(LOG, NOW);
    for (const r of records)
      verifier.push({ seq: r.seq, record: r.seq === 5 ? { ...r, seq: 7 } : r, event: byId.get(r.eventId) });
    expect(verifier.finish(head)).toMatchObject({ firstBrokenSequence: 5, reason: 'bad-sequence' });
  });

  it('reports an event chained twice', () => {
    const { records: twice, head: h } = chainOf([events[0]!, events[1]!, events[0]!]);
    expect(verify(twice, byId, h)).toMatchObject({ firstBrokenSequence: 3, reason: 'duplicate-event' });
  });

  it('reports an event of another log', () => {
    const foreign = { ...events[0]!, logId: 't_0000000000000000000000000z' };
    const chain = chainOf([foreign]);
    expect(verify(chain.records, new Map([[foreign.id, foreign]]), chain.head)).toMatchObject({
      firstBrokenSequence: 1,
      reason: 'wrong-event',
    });
  });

  it('reports a head that does not match the last record', () => {
    expect(verify(records, byId, { ...head, hash: 'a'.repeat(64) })).toMatchObject({
      firstBrokenSequence: 6,
      reason: 'head-mismatch',
    });
    expect(verify(records, byId, undefined)).toMatchObject({
      firstBrokenSequence: 1,
      reason: 'head-mismatch',
    });
  });

  it('reports exactly the tampered sequence for any single edit, deletion or swap (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('edit', 'delete-event', 'delete-record', 'swap'),
        (length, a, b, kind) => {
          const log = Array.from({ length }, (_, i) => event(i + 1));
          const chain = chainOf(log);
          const events = new Map(log.map((e) => [e.id, e]));
          let records = chain.records;
          const i = a % length;
          const j = b % length;
          let expected: number | undefined = i + 1;
          if (kind === 'edit') events.set(log[i]!.id, { ...log[i]!, action: 'member.removed' });
          if (kind === 'delete-event') events.delete(log[i]!.id);
          if (kind === 'delete-record') records = records.filter((r) => r.seq !== i + 1);
          if (kind === 'swap') {
            if (i === j) expected = undefined;
            else {
              records = records.map((r) => ({ ...r }));
              [records[i]!.eventId, records[j]!.eventId] = [records[j]!.eventId, records[i]!.eventId];
              expected = Math.min(i, j) + 1;
            }
          }
          const outcome = verify(records, events, chain.head);
          expect(outcome.firstBrokenSequence).toBe(expected);
          expect(outcome.ok).toBe(expected === undefined);
        },
      ),
    );
  });
});
