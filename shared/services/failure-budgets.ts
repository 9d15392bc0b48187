import {
  type Budget,
  networkFailureBudget,
  SIGN_IN_LIMITS,
  totpFailureBudgets,
} from '../domain/sign-in-limits.js';
import { TooManyRequestsError } from '../errors.js';
import type { RateSlot, RateWindows } from '../store/rate-windows.js';

/** Slots taken for one attempt: kept when it failed (the failure counts), given back when it succeeded. */
export interface HeldSlots {
  giveBack(): Promise<void>;
}

const NOTHING_HELD: HeldSlots = { giveBack: async () => {} };

/**
 * The one implementation of every failure budget (shared/domain/sign-in-limits.ts): reserve first, then
 * verify. A slot is taken with a conditional write before the password or code is looked at, so however
 * many attempts arrive at once, at most the limit are evaluated; the rest get 429 with Retry-After and
 * nothing about the secret. Used by sign-in, the fresh-MFA check, password change and MFA enrolment.
 */
export class FailureBudgets {
  constructor(private readonly windows: Pick<RateWindows, 'reserve' | 'add' | 'estimate'>) {}

  /** A slot of the account's budget for `ip`'s network (smaller while the account is under attack). */
  async reserveForNetwork(account: string, ip: string): Promise<HeldSlots> {
    const { underAttackAbove, windowSeconds } = SIGN_IN_LIMITS.accountPasswordFailures;
    const recent = await this.windows.estimate('password-failures', account, windowSeconds);
    return this.reserve(
      [networkFailureBudget(account, ip, recent > underAttackAbove)],
      'Too many failed attempts for this account from your network; try again later.',
    );
  }

  /** Slots of the account-wide budgets for TOTP codes, taken before a code is checked. */
  reserveForTotp(account: string): Promise<HeldSlots> {
    return this.reserve(
      totpFailureBudgets(account),
      'Too many wrong codes for this account; try again later or use a recovery code.',
    );
  }

  /** Counts a wrong password towards the account's "under attack" signal. */
  async passwordFailed(account: string): Promise<void> {
    await this.windows.add(
      'password-failures',
      account,
      SIGN_IN_LIMITS.accountPasswordFailures.windowSeconds,
    );
  }

  /** Takes a slot in each budget, or none: 429 with the first spent budget's wait. */
  async reserve(budgets: readonly Budget[], detail: string): Promise<HeldSlots> {
    const taken: RateSlot[] = [];
    for (const budget of budgets) {
      const reservation = await this.windows.reserve(
        budget.name,
        budget.key,
        budget.limit,
        budget.windowSeconds,
      );
      if (!reservation.granted) {
        await Promise.all(taken.map((slot) => slot.release()));
        throw new TooManyRequestsError(reservation.retryAfterSeconds, detail);
      }
      taken.push(reservation.slot);
    }
    if (taken.length === 0) return NOTHING_HELD;
    return { giveBack: async () => void (await Promise.all(taken.map((slot) => slot.release()))) };
  }
}
