import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { hashSecret, newSecret, sessionToken } from '../../shared/domain/credentials.js';
import { newId } from '../../shared/domain/ids.js';
import { userKey } from '../../shared/domain/item-layout.js';
import { epochOf, type SessionRecord } from '../../shared/store/identity-records.js';
import { IdentityStore } from '../../shared/store/identity-store.js';

/** The identity store on the integration run's identity table. */
const identityStore = () => new IdentityStore(functionRuntime().dynamo, process.env.IDENTITY_TABLE!);

/**
 * A session item of `user` as a password sign-in writes it (no MFA, a day long, from 127.0.0.1), with
 * `overrides`, and its bearer token. Nothing is written.
 */
export function sessionItem(
  user: { userId: string },
  overrides: Partial<SessionRecord> = {},
): { session: SessionRecord; token: string } {
  const secret = newSecret();
  const now = Date.now();
  const session: SessionRecord = {
    sessionId: newId('s'),
    userId: user.userId,
    secretHash: hashSecret(secret),
    createdAt: now,
    lastSeenAt: now,
    idleTimeoutSeconds: 86_400,
    absoluteExpiresAt: now + 86_400_000,
    ip: '127.0.0.1',
    userAgent: 'test',
    authMethod: 'password',
    mfa: false,
    ...overrides,
  };
  return { session, token: sessionToken(session.sessionId, secret) };
}

/**
 * Writes a session of `user` (see `sessionItem`) through the identity store under the account's current
 * credential epoch and MFA state, as a sign-in would once its checks had passed, and returns its token: for
 * tests of what a session the API would not have started (password-only with TOTP on, say) may do.
 */
export async function writeSession(user: { userId: string }, overrides: Partial<SessionRecord> = {}) {
  const identity = identityStore();
  const profile = (await identity.getUser(user.userId))!;
  const { session, token } = sessionItem(user, overrides);
  await identity.createSession(session, {
    credentialEpoch: epochOf(profile),
    mfaEnabled: profile.mfaEnabled,
  });
  return token;
}

/** Sets or removes the profile's emailVerifiedAt directly (an account from before the verified-only rule). */
export async function setEmailVerified(userId: string, verified: boolean): Promise<void> {
  await functionRuntime().dynamo.send(
    new UpdateCommand({
      TableName: process.env.IDENTITY_TABLE!,
      Key: userKey(userId),
      UpdateExpression: verified ? 'SET emailVerifiedAt = :at' : 'REMOVE emailVerifiedAt',
      ...(verified ? { ExpressionAttributeValues: { ':at': new Date().toISOString() } } : {}),
    }),
  );
}
