/**
 * Sliding-window rate limits over two fixed-window counters (the "sliding window counter" of Cloudflare
 * and others): the count of the last `W` seconds is estimated as the current window's count plus the
 * previous window's count weighted by how much of the previous window still lies inside the sliding one.
 * A request passes while that estimate, rounded up, stays below the limit.
 *
 * Guarantees (for limit L, window W, no slot given back): at most L pass in any one fixed window; at most
 * L + ⌊L·t/W⌋ in any interval of t ≤ W seconds, so a burst shorter than W/L straddling a window boundary
 * gets at most L (fixed windows let 2L through there); over T seconds at most L·(⌈T/W⌉ + 1).
 *
 * Pure arithmetic in integer milliseconds, so that a store can enforce it with one conditional write:
 * `count < currentWindowThreshold(...)`.
 */

/** Index of the fixed window that `nowMs` falls in. */
export function windowIndex(nowMs: number, windowSeconds: number): number {
  return Math.floor(nowMs / (windowSeconds * 1000));
}

function elapsedMs(nowMs: number, windowSeconds: number): number {
  const windowMs = windowSeconds * 1000;
  return nowMs - windowIndex(nowMs, windowSeconds) * windowMs;
}

/** The previous window's weight now: ⌈previous × share of it still inside the sliding window⌉. */
function carriedOver(previousCount: number, elapsed: number, windowMs: number): number {
  return Math.ceil((previousCount * (windowMs - elapsed)) / windowMs);
}

/**
 * How many requests the current window may hold in total now: a request passes when the current
 * window's count is below this. It rounds the previous window's share up (rounding down would let one
 * request more than the limit through right after a boundary).
 */
export function currentWindowThreshold(
  limit: number,
  previousCount: number,
  nowMs: number,
  windowSeconds: number,
): number {
  return limit - carriedOver(previousCount, elapsedMs(nowMs, windowSeconds), windowSeconds * 1000);
}

/** The sliding estimate of requests in the last window (what is compared with the limit). */
export function slidingCount(
  previousCount: number,
  currentCount: number,
  nowMs: number,
  windowSeconds: number,
): number {
  return currentCount + carriedOver(previousCount, elapsedMs(nowMs, windowSeconds), windowSeconds * 1000);
}

/**
 * Seconds until a request refused now would pass, assuming nothing else is counted meanwhile: later in
 * this window as the previous window's weight fades, else in the next window (where this window's count
 * becomes the fading one), else in the one after. At least 1 (the HTTP Retry-After convention).
 */
export function retryAfterSeconds(
  limit: number,
  previousCount: number,
  currentCount: number,
  nowMs: number,
  windowSeconds: number,
): number {
  const windowMs = windowSeconds * 1000;
  const elapsed = elapsedMs(nowMs, windowSeconds);
  // The first elapsed time e in a window with counts (prev, current) at which current < limit − carriedOver.
  const firstPassing = (prev: number, current: number): number | undefined => {
    const room = limit - current - 1;
    if (room < 0) return undefined;
    if (prev === 0) return 0;
    const e = windowMs - Math.floor((room * windowMs) / prev);
    return e < windowMs ? Math.max(0, e) : undefined;
  };
  let waitMs: number;
  const here = firstPassing(previousCount, currentCount);
  if (here !== undefined) waitMs = Math.max(0, here - elapsed);
  else {
    const next = firstPassing(currentCount, 0);
    waitMs = windowMs - elapsed + (next ?? windowMs);
  }
  return Math.max(1, Math.ceil(waitMs / 1000));
}
