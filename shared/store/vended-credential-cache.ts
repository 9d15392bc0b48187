import { BoundedCache, type CacheStats, estimateBytes } from '../domain/bounded-cache.js';
import type { StorageAccess } from '../domain/storage-limits.js';
import type { VendActor, VendedCredentials } from '../domain/storage-sessions.js';
import { registerCache } from '../observability.js';

/** One vend as the cache keeps it. */
export interface CacheEntry {
  credentials: VendedCredentials;
  vendId: string;
  packedPolicySize?: number;
  issuedAtMs: number;
  expiresAtMs: number;
  tenantId: string;
  userId: string;
  locationId: string;
}

/**
 * Cache key of vended credentials: never shared across tenants, users, actors (a user's sessions and each of
 * their API keys: the STS session name names one), locations, access or lifetimes.
 */
export function credentialCacheKey(k: {
  tenantId: string;
  userId: string;
  actor?: VendActor;
  locationId: string;
  access: StorageAccess;
  durationSeconds: number;
}): string {
  const actor = k.actor ?? { kind: 'user', id: k.userId };
  return [k.tenantId, k.userId, `${actor.kind}:${actor.id}`, k.locationId, k.access, k.durationSeconds].join(
    '|',
  );
}

export interface VendedCredentialCacheProps {
  /**
   * Cached credentials are served until half their lifetime has passed or until this long before expiry,
   * whichever comes first, so a client always gets most of what it asked for.
   */
  refreshMarginMs?: number;
  /** Bound of the warm function's cache (least recently used entries go first); 0 turns it off. */
  maxEntries?: number;
  /** Bound in estimated bytes. */
  maxBytes?: number;
  now?: () => number;
}

/** About 1.5 KiB an entry (a session token is most of it): 2,000 entries stay under 4 MiB. */
const DEFAULT_MAX_ENTRIES = 2000;
const DEFAULT_MAX_BYTES = 4 * 2 ** 20;

/**
 * The credentials a warm vending function has vended, by cache key, least recently used first, bounded in
 * entries and bytes. An entry is served only while most of its life is left and only when issued after
 * any revocation that applies to it.
 */
export class VendedCredentialCache {
  readonly #entries: BoundedCache<CacheEntry>;
  readonly #refreshMarginMs: number;
  readonly #now: () => number;

  constructor(props: VendedCredentialCacheProps = {}) {
    this.#refreshMarginMs = props.refreshMarginMs ?? 5 * 60_000;
    this.#now = props.now ?? Date.now;
    this.#entries = new BoundedCache<CacheEntry>({
      name: 'vended credentials',
      maxEntries: props.maxEntries ?? DEFAULT_MAX_ENTRIES,
      maxBytes: props.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeOf: estimateBytes,
    });
    registerCache(this.#entries);
  }

  /** The entry under `key` when it may still be served (and marks it recently used); dropped otherwise. */
  take(key: string, cutoffMs: number | undefined): CacheEntry | undefined {
    return this.#entries.get(key, (entry) => this.#usable(entry, cutoffMs));
  }

  /** Keeps an entry, evicting the least recently used beyond the bounds. */
  put(key: string, entry: CacheEntry): void {
    this.#entries.set(key, entry);
  }

  /**
   * Forgets cached credentials of a tenant: of one user, of one location, or (neither) all of them. Called
   * for revocations made in this process; other warm functions learn of them from the tenant's list.
   */
  drop(tenantId: string, subject: { userId?: string; locationId?: string } = {}): void {
    this.#entries.deleteWhere(
      (entry) =>
        entry.tenantId === tenantId &&
        (subject.userId === undefined || entry.userId === subject.userId) &&
        (subject.locationId === undefined || entry.locationId === subject.locationId),
    );
  }

  /** Number of cached credentials. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bounds, contents and hit rate. */
  stats(): CacheStats {
    return this.#entries.stats();
  }

  #usable(entry: CacheEntry, cutoffMs: number | undefined): boolean {
    const now = this.#now();
    if (entry.expiresAtMs - this.#refreshMarginMs <= now) return false;
    // Half its life gone: a fresh one serves the client better.
    if (now - entry.issuedAtMs >= (entry.expiresAtMs - entry.issuedAtMs) / 2) return false;
    return cutoffMs === undefined || entry.issuedAtMs >= cutoffMs;
  }
}
