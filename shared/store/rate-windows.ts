import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BoundedCache } from '../domain/bounded-cache.js';
import { rateWindowKey } from '../domain/item-layout.js';
import {
  currentWindowThreshold,
  retryAfterSeconds,
  slidingCount,
  windowIndex,
} from '../domain/sliding-window.js';
import { registerCache } from '../observability.js';

/** A slot taken in a limit; giving it back makes the attempt not count (e.g. a correct sign-in). */
export interface RateSlot {
  release(): Promise<void>;
}

export type Reservation = { granted: true; slot: RateSlot } | { granted: false; retryAfterSeconds: number };

/** A closed window's count is cached once no request that began inside it can still be running. */
const SETTLED_AFTER_MS = 60_000;
/** Settled counts kept (about 300 bytes each, the key being most of it): at most 2 MiB. */
const CACHE_ENTRIES = 4096;
const CACHE_BYTES = 2 * 2 ** 20;

/**
 * Sliding-window counters (shared/domain/sliding-window.ts) in a DynamoDB table: one item per name, key
 * and fixed window, expiring by TTL. Taking a slot is a single conditional `ADD` that succeeds only while
 * the current window's count is below the threshold the previous window leaves, so concurrent callers
 * can never take more than the limit between them: the slot is reserved before the guarded work runs.
 */
export class RateWindows {
  readonly #settled = new BoundedCache<number>({
    name: 'settled rate windows',
    maxEntries: CACHE_ENTRIES,
    maxBytes: CACHE_BYTES,
    sizeOf: () => 8,
  });

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    // Read at call time, so a test that moves the system clock moves the windows with it.
    private readonly now: () => number = () => Date.now(),
  ) {
    registerCache(this.#settled);
  }

  /** Takes one slot of `limit` per `windowSeconds` for `name`/`key`, or says how long to wait. */
  async reserve(name: string, key: string, limit: number, windowSeconds: number): Promise<Reservation> {
    const now = this.now();
    const window = windowIndex(now, windowSeconds);
    const previous = await this.#previousCount(name, key, window, windowSeconds, now);
    const threshold = currentWindowThreshold(limit, previous, now, windowSeconds);
    const itemKey = rateWindowKey(name, key, window);
    const refused = (current: number): Reservation => ({
      granted: false,
      retryAfterSeconds: retryAfterSeconds(limit, previous, current, now, windowSeconds),
    });
    if (threshold <= 0) return refused(await this.#count(itemKey));
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl)',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :threshold',
          ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':threshold': threshold,
            ':ttl': expiry(window, windowSeconds),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return refused(countOf(error.Item) ?? limit);
      throw error;
    }
    let released = false;
    return {
      granted: true,
      slot: {
        release: async () => {
          if (released) return;
          released = true;
          await this.#giveBack(itemKey);
        },
      },
    };
  }

  /** Counts one event without a limit (a signal other limits read through `estimate`). */
  async add(name: string, key: string, windowSeconds: number): Promise<void> {
    const window = windowIndex(this.now(), windowSeconds);
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: rateWindowKey(name, key, window),
        UpdateExpression: 'ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl)',
        ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':one': 1, ':ttl': expiry(window, windowSeconds) },
      }),
    );
  }

  /**
   * Counts one event in the current fixed window and answers the window and the count after it (aggregated
   * audit: the caller reports at chosen counts); `untally` takes it back when the report failed.
   */
  async tally(
    name: string,
    key: string,
    windowSeconds: number,
  ): Promise<{
    window: number;
    count: number;
    /** With the window's first count only: the previous window's final count (0 when it had none). */
    previousCount?: number;
    untally: () => Promise<void>;
  }> {
    const window = windowIndex(this.now(), windowSeconds);
    const itemKey = rateWindowKey(name, key, window);
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: itemKey,
        UpdateExpression: 'ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl)',
        ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':one': 1, ':ttl': expiry(window, windowSeconds) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const count = Number(Attributes?.count ?? 1);
    return {
      window,
      count,
      // The previous window is closed: its count is final (its item outlives it by a window). Informational:
      // a failed read leaves it out rather than failing a count already taken.
      ...(count === 1
        ? await this.#count(rateWindowKey(name, key, window - 1)).then(
            (previousCount) => ({ previousCount }),
            () => ({}),
          )
        : {}),
      untally: () => this.#giveBack(itemKey),
    };
  }

  /** The sliding count of the last `windowSeconds` for `name`/`key`. */
  async estimate(name: string, key: string, windowSeconds: number): Promise<number> {
    const now = this.now();
    const window = windowIndex(now, windowSeconds);
    const [previous, current] = await Promise.all([
      this.#previousCount(name, key, window, windowSeconds, now),
      this.#count(rateWindowKey(name, key, window)),
    ]);
    return slidingCount(previous, current, now, windowSeconds);
  }

  /** Takes one back from a window's count (a slot released, a tally withdrawn). */
  async #giveBack(itemKey: { pk: string; sk: string }): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'ADD #count :minusOne',
          ConditionExpression: 'attribute_exists(#count)',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':minusOne': -1 },
        }),
      );
    } catch (error) {
      // The window is gone (expired and deleted meanwhile): there is nothing left to give back.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async #count(key: { pk: string; sk: string }): Promise<number> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: key }));
    return Number(Item?.count ?? 0);
  }

  /**
   * The previous window's count. Once settled it only shrinks (slots given back late), so a cached value
   * can only make the limit stricter; the cache saves warm functions a read per request.
   */
  async #previousCount(
    name: string,
    key: string,
    window: number,
    windowSeconds: number,
    now: number,
  ): Promise<number> {
    const itemKey = rateWindowKey(name, key, window - 1);
    const cacheKey = `${itemKey.pk}|${itemKey.sk}`;
    const cached = this.#settled.get(cacheKey);
    if (cached !== undefined) return cached;
    const count = await this.#count(itemKey);
    if (now - window * windowSeconds * 1000 >= SETTLED_AFTER_MS) {
      this.#settled.set(cacheKey, count);
    }
    return count;
  }
}

/** A window's item is read as "the previous window" during the next one, then expires. */
function expiry(window: number, windowSeconds: number): number {
  return (window + 2) * windowSeconds + 60;
}

/** The count in a ConditionalCheckFailed's returned item (raw attribute values). */
function countOf(item: Record<string, { N?: string }> | undefined): number | undefined {
  const n = item?.count?.N;
  return n === undefined ? undefined : Number(n);
}
