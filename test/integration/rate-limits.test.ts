import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { retryAfterSeconds } from '../../shared/domain/sliding-window.js';
import { RateWindows } from '../../shared/store/rate-windows.js';
import { useTestApi } from '../support/local-api.js';

/**
 * The sliding-window counters against the emulator (whose DynamoDB requests are atomic, as on AWS), and
 * the per-client route limits through the HTTP stack.
 */
const api = useTestApi();

const W = 900;
const WINDOW_MS = W * 1000;
/** A window boundary in the future (so the windows are fresh) at a whole multiple of the window. */
const BOUNDARY = (Math.floor(Date.now() / WINDOW_MS) + 10) * WINDOW_MS;

function windowsAt(clock: { now: number }) {
  return new RateWindows(functionRuntime().dynamo, process.env.IDENTITY_TABLE!, () => clock.now);
}

describe('sliding-window counters (emulator)', () => {
  it('lets exactly the limit of 120 concurrent reservations through', async () => {
    // Prepare
    const windows = windowsAt({ now: BOUNDARY + 5_000 });
    // Act
    const results = await Promise.all(
      Array.from({ length: 120 }, () => windows.reserve('test-concurrent', 'k', 7, W)),
    );
    // Assess
    expect(results.filter((r) => r.granted)).toHaveLength(7);
    const refused = results.filter((r) => !r.granted);
    expect(refused).toHaveLength(113);
    // Seven in the current window: the next slot frees when this window's seven weigh less than one,
    // 1/7 into the next window.
    const expected = retryAfterSeconds(7, 0, 7, BOUNDARY + 5_000, W);
    expect(expected).toBe(Math.ceil((WINDOW_MS - 5_000 + WINDOW_MS / 7) / 1000));
    for (const r of refused) expect(r).toEqual({ granted: false, retryAfterSeconds: expected });
  });

  it('lets no burst across a window boundary exceed the limit, and frees slots as the old window fades', async () => {
    // Prepare: the whole limit in the last second of a window
    const clock = { now: BOUNDARY - 1_000 };
    const windows = windowsAt(clock);
    const before = await Promise.all(
      Array.from({ length: 10 }, () => windows.reserve('test-burst', 'k', 5, W)),
    );
    // Act: a concurrent burst one second into the next window (a fixed window would admit five more)
    clock.now = BOUNDARY + 1_000;
    const after = await Promise.all(
      Array.from({ length: 100 }, () => windows.reserve('test-burst', 'k', 5, W)),
    );
    const wait = (after.find((r) => !r.granted) as { retryAfterSeconds: number }).retryAfterSeconds;
    clock.now = BOUNDARY + 1_000 + (wait - 1) * 1000;
    const tooEarly = await windows.reserve('test-burst', 'k', 5, W);
    clock.now = BOUNDARY + 1_000 + wait * 1000;
    const onTime = await windows.reserve('test-burst', 'k', 5, W);
    // Assess
    expect(before.filter((r) => r.granted)).toHaveLength(5);
    expect(after.filter((r) => r.granted)).toHaveLength(0);
    expect(wait).toBe(W / 5 - 1); // a fifth into the window, the previous five weigh four
    expect(tooEarly.granted).toBe(false);
    expect(onTime.granted).toBe(true);
  });

  it('gives a released slot back to the next caller', async () => {
    // Prepare: the one slot taken
    const windows = windowsAt({ now: BOUNDARY + 60_000 });
    const first = await windows.reserve('test-release', 'k', 1, W);

    // Assess
    expect((await windows.reserve('test-release', 'k', 1, W)).granted).toBe(false);
    if (!first.granted) throw new Error('first reservation refused');

    // Act: release it, twice
    await first.slot.release();
    await first.slot.release(); // once only

    // Assess: the next caller gets it, once
    expect((await windows.reserve('test-release', 'k', 1, W)).granted).toBe(true);
    expect((await windows.reserve('test-release', 'k', 1, W)).granted).toBe(false);
  });
});

describe('route rate limits (HTTP)', () => {
  it('lets exactly five of 100 concurrent sign-ins from one address past the per-client limit', async () => {
    // Act
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api.request('POST', '/v1/auth/login', {
          sourceIp: '127.60.0.1',
          body: { email: `nobody-${i}@example.test`, password: 'not-the-password' },
        }),
      ),
    );
    // Assess
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(95);
    for (const r of responses.filter((r) => r.status === 429)) {
      const retryAfter = Number(r.headers.get('retry-after'));
      // Five in this window: free again a fifth into the next 15-minute window at the latest.
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60 + (15 * 60) / 5);
      expect(r.body.type).toBe('https://strongroom.dev/problems/rate-limited');
    }
  });

  it('keeps a direct client in its own bucket whatever CloudFront-Viewer-Address it sends', async () => {
    // Local mode has no distribution and no origin secret: the address is the connection's, always. Each
    // request claims another viewer address (with and without a guessed origin secret header).
    const responses = [];
    for (let i = 0; i < 7; i++) {
      responses.push(
        await api.request('POST', '/v1/auth/login', {
          sourceIp: '127.61.0.1',
          headers: {
            'cloudfront-viewer-address': `198.51.100.${i + 1}:4432${i}`,
            ...(i % 2 ? { 'x-strongroom-origin-verify': 'guessed-secret' } : {}),
          },
          body: { email: `spoofer-${i}@example.test`, password: 'not-the-password' },
        }),
      );
    }
    // Assess: the per-client limit of five counted them all against 127.61.0.1
    expect(responses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // A client on another address still has its own budget.
    const other = await api.request('POST', '/v1/auth/login', {
      sourceIp: '127.61.0.2',
      body: { email: 'spoofer-other@example.test', password: 'not-the-password' },
    });
    expect(other.status).toBe(401);
  });
});
