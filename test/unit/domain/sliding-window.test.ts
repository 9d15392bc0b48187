import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  currentWindowThreshold,
  retryAfterSeconds,
  slidingCount,
  windowIndex,
} from '../../../shared/domain/sliding-window.js';

/** The limiter exactly as the store runs it (one counter per fixed window, a conditional add). */
function simulate(limit: number, windowSeconds: number) {
  const counts = new Map<number, number>();
  return {
    counts,
    attempt(now: number): boolean {
      const w = windowIndex(now, windowSeconds);
      const threshold = currentWindowThreshold(limit, counts.get(w - 1) ?? 0, now, windowSeconds);
      const current = counts.get(w) ?? 0;
      if (current >= threshold) return false;
      counts.set(w, current + 1);
      return true;
    },
    retryAfter(now: number): number {
      const w = windowIndex(now, windowSeconds);
      return retryAfterSeconds(limit, counts.get(w - 1) ?? 0, counts.get(w) ?? 0, now, windowSeconds);
    },
  };
}

const W = 900;
const WINDOW_MS = W * 1000;
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % WINDOW_MS); // a window boundary

describe('sliding-window limits', () => {
  it('lets a full burst through, then nothing across the boundary', () => {
    // Prepare: five requests in the last second of a window (what a fixed window would double)
    const limiter = simulate(5, W);
    const before = Array.from({ length: 8 }, () => limiter.attempt(T0 - 500));
    // Act: a burst right after the boundary
    const after = Array.from({ length: 8 }, () => limiter.attempt(T0 + 500));
    // Assess
    expect(before.filter(Boolean)).toHaveLength(5);
    expect(after.filter(Boolean)).toHaveLength(0);
  });

  it('never admits more than L + ⌊L·t/W⌋ in any interval of t ≤ W, nor more than L in one fixed window', () => {
    // Act / Assess: for any limit and any arrival times
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 4 * WINDOW_MS }), { minLength: 1, maxLength: 300 }),
        (limit, offsets) => {
          const limiter = simulate(limit, W);
          const admitted = offsets
            .map((o) => T0 + o)
            .sort((a, b) => a - b)
            .filter((t) => limiter.attempt(t));
          for (const count of limiter.counts.values()) expect(count).toBeLessThanOrEqual(limit);
          for (let i = 0; i < admitted.length; i++) {
            for (let j = i; j < admitted.length; j++) {
              const span = admitted[j]! - admitted[i]!;
              if (span >= WINDOW_MS) break;
              // A burst shorter than W/L gets at most L, wherever the boundary falls.
              expect(j - i + 1).toBeLessThanOrEqual(limit + Math.floor((limit * span) / WINDOW_MS));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers a Retry-After at which the request passes, and not a second earlier', () => {
    // Act / Assess: for any limit, arrivals and moment of asking
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 2 * WINDOW_MS }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 3 * WINDOW_MS }),
        (limit, offsets, probe) => {
          const limiter = simulate(limit, W);
          for (const t of offsets.map((o) => T0 + o).sort((a, b) => a - b)) limiter.attempt(t);
          const last = T0 + Math.max(...offsets);
          const now = last + (probe % WINDOW_MS);
          const frozen = new Map(limiter.counts);
          const passesAt = (t: number) => {
            const w = windowIndex(t, W);
            const threshold = currentWindowThreshold(limit, frozen.get(w - 1) ?? 0, t, W);
            return (frozen.get(w) ?? 0) < threshold;
          };
          if (passesAt(now)) return;
          const wait = limiter.retryAfter(now);
          expect(passesAt(now + wait * 1000)).toBe(true);
          if (wait > 1) expect(passesAt(now + (wait - 1) * 1000)).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('estimates the last window from both counters', () => {
    // Act / Assess: a quarter into the window, three quarters of the previous one still count (rounded up).
    expect(slidingCount(8, 2, T0 + WINDOW_MS / 4, W)).toBe(2 + 6);
    expect(currentWindowThreshold(10, 8, T0 + WINDOW_MS / 4, W)).toBe(4);
    expect(currentWindowThreshold(10, 1, T0 + 1, W)).toBe(9);
    expect(currentWindowThreshold(10, 0, T0, W)).toBe(10);
  });
});
