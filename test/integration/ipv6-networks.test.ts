import { describe, expect, it } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { networkOf, SIGN_IN_LIMITS } from '../../shared/domain/sign-in-limits.js';
import { TooManyRequestsError } from '../../shared/errors.js';
import { FailureBudgets } from '../../shared/services/failure-budgets.js';
import { IdentityStore } from '../../shared/store/identity-store.js';

/**
 * One IPv6 subscriber routinely holds a /48 (65,536 /64s; a free tunnel broker hands one out). Counted by
 * /64, the per-network password-failure budget would be 65,536 budgets for one attacker: about 196,000
 * password checks per hour against one account even "under attack". Budgets count the /48. Exercised on
 * the real budgets over the emulator's identity table; 64 /64s of one /48 stand for the 65,536.
 */
describe('password-failure budgets over IPv6', () => {
  it('give a /48 no more password checks for one account than one network’s budget', {
    timeout: 300_000,
  }, async () => {
    // Prepare: the account is already "under attack" (more than 50 wrong passwords this hour): the
    // strictest mode.
    const budgets = new FailureBudgets(
      new IdentityStore(functionRuntime().dynamo, process.env.IDENTITY_TABLE!).rateWindows,
    );
    const account = `ipv6-victim-${Date.now()}@example.test`;
    for (let i = 0; i <= SIGN_IN_LIMITS.accountPasswordFailures.underAttackAbove; i++)
      await budgets.passwordFailed(account);

    // Act: a full network budget of wrong passwords from each of 64 /64s of one /48
    let evaluated = 0;
    for (let subnet = 0; subnet < 64; subnet++) {
      const ip = `2001:db8:77:${subnet.toString(16)}::1`;
      for (let attempt = 0; attempt < SIGN_IN_LIMITS.networkFailures.limit; attempt++) {
        try {
          await budgets.reserveForNetwork(account, ip); // kept: each is a wrong password
          await budgets.passwordFailed(account);
          evaluated++;
        } catch (error) {
          if (!(error instanceof TooManyRequestsError)) throw error;
        }
      }
    }

    // Assess: one network's under-attack budget in all
    expect(evaluated).toBe(SIGN_IN_LIMITS.networkFailures.underAttackLimit);
  });

  it('count 6to4 and NAT64 addresses as the IPv4 address they carry', () => {
    // Act / Assess
    expect(networkOf('2002:cb00:7107::1')).toBe(networkOf('203.0.113.7'));
    expect(networkOf('64:ff9b::cb00:7107')).toBe(networkOf('203.0.113.9'));
  });
});
