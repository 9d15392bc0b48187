import { describe, expect, it } from 'vitest';
import { failedCheckOf, passkeyView } from '../../../shared/services/passkeys.js';

describe('failedCheckOf', () => {
  it.each([
    ['Unexpected authentication response challenge "x", expected "y"', 'challenge'],
    ['Unexpected authentication response origin "https://evil", expected "https://a"', 'origin'],
    ['Unexpected RP ID hash', 'rp-id'],
    ['User verification required, but user could not be verified', 'user-verification'],
    ['User not present during authentication', 'user-presence'],
    ['Response counter value 3 was lower than expected 5', 'counter'],
    ['anything else', 'signature'],
  ])('%s → %s', (message, check) => {
    // Act / Assess
    expect(failedCheckOf(new Error(message))).toBe(check);
  });
});

describe('passkeyView', () => {
  it('shows no key material', () => {
    // Act: a stored passkey, every field set
    const view = passkeyView({
      passkeyId: 'p_1',
      userId: 'u_1',
      credentialId: 'secret-ish',
      publicKey: 'key',
      counter: 3,
      name: 'Laptop',
      createdAt: '2026-12-01T00:00:00Z',
      deviceType: 'multiDevice',
      backedUp: true,
      aaguid: '0',
    });

    // Assess: what the console sees, without the credential id, public key, counter or AAGUID
    expect(view).toEqual({
      passkeyId: 'p_1',
      name: 'Laptop',
      createdAt: '2026-12-01T00:00:00Z',
      lastUsedAt: null,
      deviceType: 'multiDevice',
      backedUp: true,
    });
  });
});
