import { PASSKEY_LIMIT } from '../domain/passkeys.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { atMostOneFactor, optionalFactor, StepUpToken, User } from './auth.js';

/** base64url without padding, as WebAuthn's JSON encodings use it. */
const Base64Url = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[A-Za-z0-9_-]+$/, 'base64url'));

const PasskeyId = z.onFirstUse(() =>
  z.string().check(z.regex(/^p_[0-9a-hjkmnp-tv-z]{26}$/, 'Not a passkey id')),
);
const ChallengeId = z.onFirstUse(() => Base64Url(64));
const PasskeyName = z.onFirstUse(() => z.string().check(z.trim(), z.minLength(1), z.maxLength(64)));

/** A credential id (at most 1023 bytes in WebAuthn, so 1364 base64url characters). */
const CredentialId = z.onFirstUse(() => Base64Url(1400));
const ExtensionResults = z.onFirstUse(() => z._default(z.record(z.string(), z.unknown()), {}));
const Transports = z.onFirstUse(() => z.array(z.string().check(z.maxLength(32))).check(z.maxLength(10)));

/** What `navigator.credentials.create` answered, JSON-encoded (`PublicKeyCredential.toJSON()`). */
const RegistrationCredential = z.onFirstUse(() =>
  z
    .object({
      id: CredentialId(),
      rawId: CredentialId(),
      type: z.literal('public-key'),
      response: z.object({
        clientDataJSON: Base64Url(4096),
        attestationObject: Base64Url(32_768),
        authenticatorData: z.optional(Base64Url(16_384)),
        transports: z.optional(Transports()),
        publicKeyAlgorithm: z.optional(z.number().check(z.int())),
        publicKey: z.optional(Base64Url(4096)),
      }),
      authenticatorAttachment: z.optional(z.enum(['platform', 'cross-platform'])),
      clientExtensionResults: ExtensionResults(),
    })
    .check(z.meta({ id: 'PasskeyRegistrationCredential' })),
);

/** What `navigator.credentials.get` answered, JSON-encoded (`PublicKeyCredential.toJSON()`). */
const AuthenticationCredential = z.onFirstUse(() =>
  z
    .object({
      id: CredentialId(),
      rawId: CredentialId(),
      type: z.literal('public-key'),
      response: z.object({
        clientDataJSON: Base64Url(4096),
        authenticatorData: Base64Url(16_384),
        signature: Base64Url(2048),
        userHandle: z.optional(Base64Url(128)),
      }),
      authenticatorAttachment: z.optional(z.enum(['platform', 'cross-platform'])),
      clientExtensionResults: ExtensionResults(),
    })
    .check(z.meta({ id: 'PasskeyAuthenticationCredential' })),
);

/** WebAuthn options as JSON (base64url buffers): give them to `PublicKeyCredential.parse*OptionsFromJSON`. */
const CeremonyOptions = (id: string, description: string) =>
  z
    .object({
      challengeId: z
        .string()
        .check(z.describe('Send it back with the authenticator’s answer (valid 5 minutes, once)')),
      options: z.record(z.string(), z.unknown()).check(z.describe(description)),
    })
    .check(z.meta({ id }));

export const Passkey = z.onFirstUse(() =>
  z
    .object({
      passkeyId: z.string(),
      name: z.string(),
      createdAt: z.string(),
      lastUsedAt: z.nullable(z.string()).check(z.describe('The last sign-in with it')),
      deviceType: z
        .enum(['singleDevice', 'multiDevice'])
        .check(z.describe('`multiDevice`: synced by a password manager or platform account')),
      backedUp: z.boolean(),
    })
    .check(z.meta({ id: 'Passkey' })),
);

export const listPasskeys = defineRoute({
  id: 'listPasskeys',
  method: 'GET',
  path: '/v1/me/passkeys',
  area: 'auth',
  summary: 'Your passkeys',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'Passkeys, oldest first',
    get schema() {
      return z.object({ items: z.array(Passkey()) });
    },
  },
});

export const passkeyRegistrationOptions = defineRoute({
  id: 'passkeyRegistrationOptions',
  method: 'POST',
  path: '/v1/me/passkeys/registration-options',
  area: 'auth',
  summary: 'Start adding a passkey: options for navigator.credentials.create (user verification required)',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'passkey-registration-user', per: 'user', limit: 20, windowSeconds: 3600 }],
  response: {
    status: 200,
    description: `A challenge only this session can answer (409 \`passkey-limit\` at ${PASSKEY_LIMIT} passkeys)`,
    get schema() {
      return CeremonyOptions('PasskeyRegistrationOptions', 'PublicKeyCredentialCreationOptionsJSON');
    },
  },
});

export const registerPasskey = defineRoute({
  id: 'registerPasskey',
  method: 'POST',
  path: '/v1/me/passkeys',
  area: 'auth',
  summary:
    'Add a passkey with the authenticator’s answer, a name and the current password (with a second factor, TOTP or a passkey: from an MFA session, with mfaCode, recoveryCode or stepUpToken); every other session is signed out',
  tags: ['me'],
  auth: { kind: 'session' },
  get body() {
    return z
      .strictObject({
        challengeId: ChallengeId(),
        credential: RegistrationCredential(),
        name: PasskeyName(),
        currentPassword: z.string().check(z.maxLength(1024)),
        ...optionalFactor(),
      })
      .check(z.refine(...atMostOneFactor));
  },
  response: {
    status: 201,
    description: 'Added (400 naming `body.credential` when the answer does not verify)',
    get schema() {
      return z.object({ passkey: Passkey(), revokedSessions: z.number().check(z.int()) });
    },
  },
});

export const renamePasskey = defineRoute({
  id: 'renamePasskey',
  method: 'PATCH',
  path: '/v1/me/passkeys/{passkeyId}',
  area: 'auth',
  summary: 'Rename one of your passkeys',
  tags: ['me'],
  auth: { kind: 'session' },
  get params() {
    return z.strictObject({ passkeyId: PasskeyId() });
  },
  get body() {
    return z.strictObject({ name: PasskeyName() });
  },
  response: {
    status: 200,
    description: 'Renamed',
    get schema() {
      return Passkey();
    },
  },
});

export const removePasskey = defineRoute({
  id: 'removePasskey',
  method: 'DELETE',
  path: '/v1/me/passkeys/{passkeyId}',
  area: 'auth',
  summary:
    'Remove one of your passkeys with the current password (with a second factor: from an MFA session; the account’s last second factor, its last passkey with TOTP off, also needs a passkey `stepUpToken`); every other session is signed out',
  tags: ['me'],
  auth: { kind: 'session' },
  get params() {
    return z.strictObject({ passkeyId: PasskeyId() });
  },
  get body() {
    return z.strictObject({
      currentPassword: z.string().check(z.maxLength(1024)),
      stepUpToken: z.optional(StepUpToken()),
    });
  },
  response: {
    status: 200,
    description:
      'Removed. 400 naming `body.stepUpToken` when it removes the last second factor without one; 401 `step-up-invalid` naming it when unknown, used, expired or another session’s',
    get schema() {
      return z.object({ revokedSessions: z.number().check(z.int()) });
    },
  },
});

export const passkeySignInOptions = defineRoute({
  id: 'passkeySignInOptions',
  method: 'POST',
  path: '/v1/auth/passkeys/options',
  area: 'auth',
  summary:
    'Start signing in with a passkey: options for navigator.credentials.get (no e-mail address needed)',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'passkey-options-ip', limit: 20, windowSeconds: 15 * 60 }],
  response: {
    status: 200,
    description: 'A challenge for any of this site’s passkeys',
    get schema() {
      return CeremonyOptions('PasskeySignInOptions', 'PublicKeyCredentialRequestOptionsJSON');
    },
  },
});

export const passkeySignIn = defineRoute({
  id: 'passkeySignIn',
  method: 'POST',
  path: '/v1/auth/passkeys/sign-in',
  area: 'auth',
  summary: 'Sign in with a passkey instead of a password: an MFA session (method `passkey`)',
  tags: ['auth'],
  auth: { kind: 'none' },
  rateLimits: [{ name: 'passkey-sign-in-ip', limit: 10, windowSeconds: 15 * 60 }],
  get body() {
    return z.strictObject({
      challengeId: ChallengeId(),
      credential: AuthenticationCredential(),
      /** As with password sign-in: `cookie` only from the console's own origin. */
      session: z._default(z.enum(['token', 'cookie']), 'token'),
    });
  },
  response: {
    status: 200,
    description:
      'A session token (shown once); with `session: cookie`, a `Set-Cookie` instead. 401 `invalid-passkey` for an unknown or removed passkey or an answer that does not verify',
    get schema() {
      return z.object({ token: z.optional(z.string()), expiresAt: z.string(), user: User() });
    },
  },
});

export const stepUpOptions = defineRoute({
  id: 'stepUpOptions',
  method: 'POST',
  path: '/v1/me/step-up/passkey/options',
  area: 'auth',
  summary:
    'Start a step-up with one of your passkeys: options for navigator.credentials.get (your passkeys, user verification required)',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'step-up-options-user', per: 'user', limit: 30, windowSeconds: 15 * 60 }],
  response: {
    status: 200,
    description:
      'A challenge only this session can answer (403 `mfa-session-required` from a session that did not prove a second factor; 409 `no-passkey` when the account has none)',
    get schema() {
      return CeremonyOptions('StepUpOptions', 'PublicKeyCredentialRequestOptionsJSON');
    },
  },
});

export const stepUpWithPasskey = defineRoute({
  id: 'stepUpWithPasskey',
  method: 'POST',
  path: '/v1/me/step-up/passkey',
  area: 'auth',
  summary:
    'Step up with a fresh passkey assertion: a token that one fresh-MFA action of this session (tenant deletion, MFA removal, password change, removing the last passkey) accepts as `stepUpToken` instead of a code, once, within 5 minutes',
  tags: ['me'],
  auth: { kind: 'session' },
  rateLimits: [{ name: 'step-up-user', per: 'user', limit: 10, windowSeconds: 15 * 60 }],
  get body() {
    return z.strictObject({ challengeId: ChallengeId(), credential: AuthenticationCredential() });
  },
  response: {
    status: 201,
    description:
      'The step-up token (shown once; only its hash is stored). 400 `passkey-challenge-invalid` naming `body.challengeId`; 401 `invalid-passkey` naming `body.credential`',
    get schema() {
      return z.object({ stepUpToken: z.string(), expiresAt: z.string() }).check(z.meta({ id: 'StepUp' }));
    },
  },
});

export const passkeyRoutes = [
  listPasskeys,
  passkeyRegistrationOptions,
  registerPasskey,
  renamePasskey,
  removePasskey,
  passkeySignInOptions,
  passkeySignIn,
  stepUpOptions,
  stepUpWithPasskey,
];
