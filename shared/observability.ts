import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { CacheStats } from './domain/bounded-cache.js';

/** One service name for every function (Powertools convention): created once, imported everywhere. */
export const SERVICE_NAME = 'strongroom';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ serviceName: SERVICE_NAME, namespace: 'Strongroom' });

// Every warm cache (shared/domain/bounded-cache.ts) of this process, held weakly: the bench reads their
// bounds and hit rates after a workload, and a cache that is no longer used is not kept alive by this.
const caches = new Set<WeakRef<{ stats(): CacheStats }>>();

/** Makes a cache's statistics visible to `cacheStats` (call once, where the cache is made). */
export function registerCache(cache: { stats(): CacheStats }): void {
  caches.add(new WeakRef(cache));
}

/** The statistics of every live registered cache, summed per name (bounds per instance), by name. */
export function cacheStats(): (CacheStats & { instances: number })[] {
  const byName = new Map<string, CacheStats & { instances: number }>();
  for (const ref of caches) {
    const cache = ref.deref();
    if (!cache) {
      caches.delete(ref);
      continue;
    }
    const s = cache.stats();
    const sum = byName.get(s.name);
    if (!sum) byName.set(s.name, { ...s, instances: 1 });
    else
      byName.set(s.name, {
        ...sum,
        instances: sum.instances + 1,
        entries: sum.entries + s.entries,
        bytes: sum.bytes + s.bytes,
        hits: sum.hits + s.hits,
        misses: sum.misses + s.misses,
        evictions: sum.evictions + s.evictions,
      });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
