import { TooManyRequestsError } from '../errors.js';
import type { RateWindows } from './rate-windows.js';

/** Counts requests per key and refuses past the limit. */
export interface RateLimiter {
  /** Throws TooManyRequestsError when `key` has used up `limit` in the window. */
  consume(name: string, key: string, limit: number, windowSeconds: number): Promise<void>;
}

/**
 * Rate limits over the identity table's sliding-window counters: atomic under any concurrency (a slot is
 * a conditional write), 429 with the Retry-After at which a request would pass.
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(private readonly windows: Pick<RateWindows, 'reserve'>) {}

  async consume(name: string, key: string, limit: number, windowSeconds: number): Promise<void> {
    const reservation = await this.windows.reserve(name, key, limit, windowSeconds);
    if (!reservation.granted) throw new TooManyRequestsError(reservation.retryAfterSeconds);
  }
}
