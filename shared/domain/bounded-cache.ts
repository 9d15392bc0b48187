/** What a cache reports: its bounds, what it holds now and how it has served. */
export interface CacheStats {
  name: string;
  maxEntries: number;
  maxBytes: number;
  entries: number;
  /** Estimated bytes held (keys and values, as `sizeOf` estimates them). */
  bytes: number;
  hits: number;
  misses: number;
  /** Entries removed to stay within a bound (not those deleted, expired or replaced). */
  evictions: number;
}

export interface BoundedCacheOptions<V> {
  /** What the bench and the logs call it. */
  name: string;
  maxEntries: number;
  maxBytes: number;
  /** The value's size in bytes, estimated (the key's is added). Called once, when the entry is set. */
  sizeOf: (value: V) => number;
  /** Called with every entry that leaves the cache (evicted, deleted, replaced, cleared): close what it holds. */
  onRemove?: (value: V, key: string) => void;
}

/** Per-entry bookkeeping of a Map entry, added to each entry's estimate. */
const ENTRY_OVERHEAD_BYTES = 64;
/** Room each entry gets beyond its value in `bytesFor`: its key (up to 480 characters) and the overhead. */
const ENTRY_ROOM_BYTES = 1024;

/**
 * A byte bound that holds `entries` values of `valueBytes` each with their keys: for caches whose values
 * have a fixed estimate, so the entry bound, not the byte bound, decides what they hold.
 */
export function bytesFor(entries: number, valueBytes: number): number {
  return entries * (valueBytes + ENTRY_ROOM_BYTES);
}

/**
 * A least-recently-used map bounded in entries and in estimated bytes, counting hits, misses and
 * evictions. Every in-memory cache of a warm function is one of these, so none grows with the tenants,
 * users, keys or connections a function has served, and each reports its bounds and hit rate
 * (`npm run bench`, section "Warm caches"). A value larger than the byte bound is not kept at all.
 */
export class BoundedCache<V> {
  readonly name: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly #sizeOf: (value: V) => number;
  readonly #onRemove: ((value: V, key: string) => void) | undefined;
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: BoundedCacheOptions<V>) {
    if (!(Number.isSafeInteger(options.maxEntries) && options.maxEntries >= 0))
      throw new RangeError(`${options.name}: maxEntries must be a whole number, 0 or more`);
    if (!(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 0))
      throw new RangeError(`${options.name}: maxBytes must be a whole number, 0 or more`);
    this.name = options.name;
    this.maxEntries = options.maxEntries;
    this.maxBytes = options.maxBytes;
    this.#sizeOf = options.sizeOf;
    this.#onRemove = options.onRemove;
  }

  /**
   * The value under `key`, marked most recently used, when there is one and `usable` (if given) accepts
   * it: a hit. Otherwise a miss, and an unusable entry is removed.
   */
  get(key: string, usable?: (value: V) => boolean): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || (usable !== undefined && !usable(entry.value))) {
      if (entry !== undefined) this.delete(key);
      this.#misses++;
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.value;
  }

  /** The value under `key` without counting or reordering (for checks that are not lookups). */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Keeps `value` as the most recently used, removing the least recently used beyond the bounds. */
  set(key: string, value: V): void {
    this.delete(key);
    const bytes = key.length * 2 + this.#sizeOf(value) + ENTRY_OVERHEAD_BYTES;
    if (this.maxEntries === 0 || bytes > this.maxBytes) {
      this.#onRemove?.(value, key);
      return;
    }
    while (this.#entries.size >= this.maxEntries || this.#bytes + bytes > this.maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
      this.#evictions++;
    }
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
  }

  /** Removes the entry under `key`; true when there was one. */
  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    this.#onRemove?.(entry.value, key);
    return true;
  }

  /** Removes every entry `matches` accepts. */
  deleteWhere(matches: (value: V, key: string) => boolean): void {
    for (const [key, entry] of [...this.#entries]) if (matches(entry.value, key)) this.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    for (const key of [...this.#entries.keys()]) this.delete(key);
  }

  /** The values, least recently used first. */
  values(): V[] {
    return [...this.#entries.values()].map((entry) => entry.value);
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  stats(): CacheStats {
    return {
      name: this.name,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      entries: this.#entries.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    };
  }
}

/**
 * A plain value's size in bytes, roughly as V8 holds it: strings two bytes a character, numbers and
 * booleans eight, objects and arrays their members plus a small header. For data (records, schemas,
 * credentials), not for objects holding sockets or closures: give those a measured constant.
 */
export function estimateBytes(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 8;
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
    case 'bigint':
      return 8;
    case 'object': {
      if (depth > 16) return 16;
      if (value instanceof Date) return 32;
      if (ArrayBuffer.isView(value)) return 64 + value.byteLength;
      let total = 32;
      if (Array.isArray(value)) for (const item of value) total += 8 + estimateBytes(item, depth + 1);
      else if (value instanceof Map)
        for (const [k, v] of value) total += 16 + estimateBytes(k, depth + 1) + estimateBytes(v, depth + 1);
      else if (value instanceof Set) for (const item of value) total += 8 + estimateBytes(item, depth + 1);
      else
        for (const [k, v] of Object.entries(value)) total += 16 + k.length * 2 + estimateBytes(v, depth + 1);
      return total;
    }
    default:
      return 16;
  }
}
