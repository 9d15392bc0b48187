import { verifyPassword } from '../crypto/passwords.js';
import type { RequestOrigin } from '../domain/caller.js';
import { HttpProblemError } from '../errors.js';
import type { UserRecord } from '../store/identity-records.js';
import { accountOf, type SecondFactorVerifier } from './second-factor.js';

/**
 * The caller's current password, asked before a way into the account is changed, added or removed
 * (passwords, TOTP, passkeys, linked identity providers), under the network failure budget of sign-in (a
 * stolen session guesses no faster than a sign-in); a wrong one is a 400 naming `body.currentPassword` and
 * counts as a failure.
 */
export async function requireCurrentPassword(
  secondFactors: SecondFactorVerifier,
  user: UserRecord,
  password: string,
  origin: RequestOrigin,
): Promise<void> {
  const account = accountOf(user);
  const network = await secondFactors.budgets.reserveForNetwork(account, origin.ip);
  if (await verifyPassword(user.passwordHash, password)) {
    await network.giveBack();
    return;
  }
  await secondFactors.budgets.passwordFailed(account);
  throw new HttpProblemError(400, 'validation-error', 'Bad Request', {
    detail: 'The current password is wrong.',
    errors: [{ path: 'body.currentPassword', message: 'Wrong password' }],
  });
}
