import { describe, expect, it } from 'vitest';
import { BoundedCache, bytesFor, estimateBytes } from '../../../shared/domain/bounded-cache.js';

/** A cache whose entries each count 100 bytes plus their key's and the per-entry overhead. */
function cache(maxEntries: number, maxBytes = 1_000_000, removed: string[] = []) {
  return new BoundedCache<string>({
    name: 'test',
    maxEntries,
    maxBytes,
    sizeOf: () => 100,
    onRemove: (value, key) => removed.push(`${key}=${value}`),
  });
}

describe('BoundedCache', () => {
  it('evicts the least recently used entry beyond its entry bound, a read counting as use', () => {
    // Prepare
    const removed: string[] = [];
    const c = cache(2, 1_000_000, removed);
    c.set('a', '1');
    c.set('b', '2');

    // Act
    expect(c.get('a')).toBe('1');
    c.set('c', '3');

    // Assess
    expect(c.values()).toEqual(['1', '3']);
    expect(removed).toEqual(['b=2']);
    expect(c.stats()).toMatchObject({ entries: 2, hits: 1, misses: 0, evictions: 1, maxEntries: 2 });
  });

  it('evicts as many entries as the byte bound needs, and never keeps a value larger than it', () => {
    // Prepare: 166 bytes an entry (100 + key + 64 overhead), room for three
    const removed: string[] = [];
    const c = new BoundedCache<string>({
      name: 'bytes',
      maxEntries: 100,
      maxBytes: 500,
      sizeOf: (v) => v.length,
      onRemove: (value, key) => removed.push(`${key}=${value.length}`),
    });
    for (const key of ['a', 'b', 'c']) c.set(key, 'x'.repeat(100));

    // Act
    c.set('d', 'x'.repeat(250));
    c.set('huge', 'x'.repeat(501));

    // Assess
    expect(c.size).toBe(2);
    expect(c.bytes).toBeLessThanOrEqual(500);
    expect(c.peek('huge')).toBeUndefined();
    expect(removed).toEqual(['a=100', 'b=100', 'huge=501']);
    expect(c.stats().evictions).toBe(2);
  });

  it('counts an unusable entry as a miss and removes it', () => {
    // Prepare
    const removed: string[] = [];
    const c = cache(10, 1_000_000, removed);
    c.set('a', 'stale');

    // Act
    const found = c.get('a', (v) => v !== 'stale');
    const again = c.get('a');

    // Assess
    expect(found).toBeUndefined();
    expect(again).toBeUndefined();
    expect(removed).toEqual(['a=stale']);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 0, misses: 2, evictions: 0 });
  });

  it('tells onRemove of replaced, deleted, matched and cleared entries, and keeps its byte count exact', () => {
    // Prepare
    const removed: string[] = [];
    const c = cache(10, 1_000_000, removed);
    for (const key of ['a', 'b', 'c', 'd']) c.set(key, key);

    // Act
    c.set('a', 'A');
    c.delete('b');
    c.deleteWhere((value) => value === 'c');
    const before = c.bytes;
    c.clear();

    // Assess
    expect(before).toBe(2 * (2 + 100 + 64));
    expect(removed).toEqual(['a=a', 'b=b', 'c=c', 'd=d', 'a=A']);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, evictions: 0 });
  });

  it('keeps nothing with a bound of 0, and refuses negative or fractional bounds', () => {
    // Prepare
    const removed: string[] = [];
    const off = cache(0, 1_000_000, removed);

    // Act
    off.set('a', '1');

    // Assess
    expect(off.get('a')).toBeUndefined();
    expect(removed).toEqual(['a=1']);
    expect(() => cache(-1)).toThrow(RangeError);
    expect(() => cache(1, 1.5)).toThrow(RangeError);
  });
});

describe('bytesFor', () => {
  it('is a byte bound that holds exactly maxEntries values of a fixed size, keys included', () => {
    // Prepare: values of 40 KiB with 60-character keys, bounds for 3
    const c = new BoundedCache<string>({
      name: 'fixed',
      maxEntries: 3,
      maxBytes: bytesFor(3, 40 * 1024),
      sizeOf: () => 40 * 1024,
    });

    // Act
    for (const key of ['a', 'b', 'c', 'd']) c.set(key.repeat(60), key);

    // Assess: the entry bound decides
    expect(c.values()).toEqual(['b', 'c', 'd']);
    const one = new BoundedCache<string>({
      name: 'one',
      maxEntries: 1,
      maxBytes: bytesFor(1, 100),
      sizeOf: () => 100,
    });
    one.set('k'.repeat(400), 'v');
    expect(one.size).toBe(1);
  });
});

describe('estimateBytes', () => {
  it('grows with a value’s contents', () => {
    // Act
    const small = estimateBytes({ keyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1' });
    const big = estimateBytes({ keyArn: 'x'.repeat(10_000), list: [1, 2, 3], nested: { a: new Date() } });

    // Assess
    expect(small).toBeGreaterThan(100);
    expect(big).toBeGreaterThan(20_000);
    expect(estimateBytes(Buffer.alloc(1000))).toBeGreaterThanOrEqual(1000);
    expect(estimateBytes(new Map([['k', 'v']]))).toBeGreaterThan(32);
  });
});
