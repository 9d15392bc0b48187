import { authenticator } from 'otplib';

/** RFC 6238: 30-second steps, 6 digits, SHA-1, one step either side. */
const totp = authenticator.clone({ step: 30, digits: 6, window: 1 });

/** A new base32 TOTP secret (160 bits). */
export function newTotpSecret(): string {
  return totp.generateSecret(20);
}

/** The otpauth:// URI an authenticator app scans. */
export function totpUri(secret: string, account: string): string {
  return totp.keyuri(account, 'Strongroom', secret);
}

/**
 * The time step a code matches (within ±1 step of now), or undefined. The caller stores the step and
 * refuses any code whose step is not newer than the last one used, so a code is accepted once.
 */
export function matchTotpStep(secret: string, code: string, now: number = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const current = Math.floor(now / 30_000);
  for (const delta of [0, -1, 1]) {
    const step = current + delta;
    const expected = totp.clone({ epoch: step * 30_000, window: 0 }).generate(secret);
    if (safeEqual(expected, code)) return step;
  }
  return undefined;
}

/** The code for a given time (tests and the CLI use it). */
export function totpCodeAt(secret: string, now: number): string {
  return totp.clone({ epoch: now, window: 0 }).generate(secret);
}

function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
