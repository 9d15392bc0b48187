import { describe, expect, it } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { IdentityStore } from '../../shared/store/identity-store.js';
import { inboxApi, signUpUnverified, type TestUser } from '../support/identity-fixtures.js';
import { setEmailVerified } from '../support/identity-items.js';
import { TEST_CONSOLE_URL } from '../support/integration-setup.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { SoftwareAuthenticator } from '../support/passkey-authenticator.js';

const ORIGIN = new URL(TEST_CONSOLE_URL).origin;
const RP_ID = new URL(TEST_CONSOLE_URL).hostname;

const api = useTestApi();

async function addPasskey(user: TestUser, device: SoftwareAuthenticator) {
  const options = await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token });
  if (options.status !== 200) return options;
  return api.request('POST', '/v1/me/passkeys', {
    token: user.token,
    body: {
      challengeId: options.body.challengeId,
      credential: device.register(options.body.options),
      name: 'Attacker',
      currentPassword: user.password,
    },
  });
}

async function signInWith(device: SoftwareAuthenticator) {
  const options = await api.request('POST', '/v1/auth/passkeys/options');
  expect(options.status, options.text).toBe(200);
  return api.request('POST', '/v1/auth/passkeys/sign-in', {
    body: { challengeId: options.body.challengeId, credential: device.assert(options.body.options) },
  });
}

describe('passkeys and unverified addresses', () => {
  it('refuses registration options and registration on an account whose address is unverified', async () => {
    // Prepare: someone registered an address they do not own
    const squatted = await signUpUnverified(api, 'pk-squat');

    // Act
    const options = await api.request('POST', '/v1/me/passkeys/registration-options', {
      token: squatted.token,
    });
    const register = await api.request('POST', '/v1/me/passkeys', {
      token: squatted.token,
      body: {
        challengeId: 'AAAAAAAAAAAAAAAAAAAAAA',
        credential: new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID }).register({
          challenge: 'AAAAAAAAAAAAAAAAAAAAAA',
          rp: { id: RP_ID, name: 'x' },
          user: { id: 'dQ', name: 'x', displayName: 'x' },
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
        }),
        name: 'Attacker',
        currentPassword: squatted.password,
      },
    });

    // Assess: the refusal tenant creation uses; nothing stored
    expect(options.status, options.text).toBe(403);
    expect(problemType(options)).toBe('email-unverified');
    expect(register.status, register.text).toBe(403);
    expect(problemType(register)).toBe('email-unverified');
    const listed = await api.request('GET', '/v1/me/passkeys', { token: squatted.token });
    expect(listed.body.items).toEqual([]);
  });

  it('a passkey added while the address was unverified is deleted by the owner’s password reset', async () => {
    // Prepare: an account that got the attacker's passkey while unverified (before the rule above:
    // verified for the registration, unverified again); the passkey signs in (an MFA session)
    const squatted = await signUpUnverified(api, 'pk-victim');
    const attackerDevice = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
    await setEmailVerified(squatted.userId, true);
    const added = await addPasskey(squatted, attackerDevice);
    expect(added.status, added.text).toBe(201);
    await setEmailVerified(squatted.userId, false);
    const before = await signInWith(attackerDevice);
    expect(before.status, before.text).toBe(200);

    // Act: the owner of the address resets the password from the mail
    const asked = await api.request('POST', '/v1/auth/password-reset', { body: { email: squatted.email } });
    expect(asked.status, asked.text).toBe(202);
    const mail = await takeMail(inboxApi(), squatted.email, /^Reset your Strongroom password/);
    const reset = await api.request('POST', '/v1/auth/password-reset/confirm', {
      body: { token: linkIn(mail, '/reset-password').token, newPassword: 'the-owners-new-password-123!' },
    });
    expect(reset.status, reset.text).toBe(200);
    const after = await signInWith(attackerDevice);

    // Assess: refused; the passkey and its count are gone, the owner can sign in and add their own
    expect(after.status, after.text).toBe(401);
    expect(problemType(after)).toBe('invalid-passkey');
    const profile = await new IdentityStore(functionRuntime().dynamo, process.env.IDENTITY_TABLE!).getUser(
      squatted.userId,
    );
    expect(profile?.passkeyCount).toBe(0);
    expect(profile?.emailVerifiedAt).toBeDefined();
    const owner = await api.request('POST', '/v1/auth/login', {
      body: { email: squatted.email, password: 'the-owners-new-password-123!' },
    });
    expect(owner.status, owner.text).toBe(200);
    const listed = await api.request('GET', '/v1/me/passkeys', { token: owner.body.token });
    expect(listed.body.items).toEqual([]);
  });
});
