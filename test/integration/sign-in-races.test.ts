import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { PLATFORM_LOG_ID } from '../../shared/domain/audit-events.js';
import { hashSecret, newSecret } from '../../shared/domain/credentials.js';
import { newId } from '../../shared/domain/ids.js';
import { sessionKey } from '../../shared/domain/item-layout.js';
import { IdentityStore } from '../../shared/store/identity-store.js';
import { createTenant, enableMfa, signUp, type TestUser } from '../support/identity-fixtures.js';
import { sessionItem } from '../support/identity-items.js';
import { problemType, useTestApi } from '../support/local-api.js';
import { partitionItems } from '../support/table-reads.js';

/**
 * A sign-in in flight, or a session the (eventually consistent) session index does not list yet, never
 * outlives a change to how the account signs in. Ending "every other session" used to list the user's
 * sessions and delete them: a sign-in that had read the user and checked the password (argon2, the slowest
 * step) but not yet written its session was not in that list and nothing re-checked the user, so an attacker
 * who knew the old password kept a session through the owner's password change or MFA enrolment (found in
 * review). Now every such change moves the user's credential epoch in its own transaction, a sign-in writes
 * its session only if the epoch (and MFA state) it verified against still stands, and the authorizer refuses
 * a session of an older epoch.
 *
 * The tests hold the attacker's sign-in exactly where real latency holds it (after the password check,
 * before the session write) and let it go once the owner's action has answered.
 */
const api = useTestApi();
const identity = () => new IdentityStore(functionRuntime().dynamo, process.env.IDENTITY_TABLE!);

afterEach(() => {
  vi.restoreAllMocks();
});

/** Holds the next session write of `userId` until `release()`; `held` resolves when it is held. */
function holdNextSessionWrite(userId: string) {
  const original = IdentityStore.prototype.createSession;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reached!: () => void;
  const held = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let armed = true;
  vi.spyOn(IdentityStore.prototype, 'createSession').mockImplementation(async function (
    this: IdentityStore,
    ...args: Parameters<IdentityStore['createSession']>
  ) {
    if (armed && args[0].userId === userId) {
      armed = false;
      reached();
      await gate;
    }
    return original.apply(this, args);
  });
  return { held, release };
}

/** Starts the attacker's sign-in with `password` and waits until it is past every check. */
async function signInHeldBeforeItsSession(user: TestUser, body: Record<string, string> = {}) {
  const { held, release } = holdNextSessionWrite(user.userId);
  const login = api.request('POST', '/v1/auth/login', {
    body: { email: user.email, password: user.password, ...body },
  });
  await held;
  return {
    finish: async () => {
      release();
      return login;
    },
  };
}

async function signInFailures(userId: string) {
  return (await partitionItems(process.env.AUDIT_TABLE!, PLATFORM_LOG_ID))
    .filter((i) => i.action === 'auth.sign-in.failed' && i.actor.userId === userId)
    .map((i) => i.details);
}

describe('a sign-in in flight never outlives a change to how the account signs in', () => {
  it('password change: the sign-in with the old password gets 401 credentials-changed and no session', async () => {
    // Prepare
    const owner = await signUp(api, 'race-pw');
    const tenantId = await createTenant(api, owner, 'Race PW Co');
    const attacker = await signInHeldBeforeItsSession(owner);
    // Act: the owner notices and changes the password while the attacker's sign-in is in flight.
    const newPassword = 'a-brand-new-password-123!';
    const change = await api.request('POST', '/v1/me/password', {
      token: owner.token,
      body: { currentPassword: owner.password, newPassword },
    });
    const login = await attacker.finish();
    // Assess
    expect(change.status, change.text).toBe(200);
    expect(login.status, login.text).toBe(401);
    expect(problemType(login)).toBe('credentials-changed');
    expect(login.body.token).toBeUndefined();
    const sessions = await api.request('GET', '/v1/me/sessions', { token: owner.token });
    expect(sessions.body.items.map((s: { current: boolean }) => s.current)).toEqual([true]);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token })).status).toBe(200);
    expect(await signInFailures(owner.userId)).toContainEqual({
      reason: 'credentials-changed',
      method: 'password',
    });
    // The new password still signs in; the stored hash is the new one.
    const fresh = await api.request('POST', '/v1/auth/login', {
      body: { email: owner.email, password: newPassword },
    });
    expect(fresh.status, fresh.text).toBe(200);
  });

  it('MFA enrolment: a password-only sign-in in flight gets 401 and cannot mint a key', async () => {
    // Prepare
    const owner = await signUp(api, 'race-mfa');
    const tenantId = await createTenant(api, owner, 'Race MFA Co');
    const attacker = await signInHeldBeforeItsSession(owner);
    // Act: the owner turns MFA on; no session without the second factor may survive.
    const enrol = await api.request('POST', '/v1/me/mfa/totp', { token: owner.token });
    expect(enrol.status, enrol.text).toBe(201);
    const confirm = await api.request('POST', '/v1/me/mfa/totp/confirm', {
      token: owner.token,
      body: { code: totpCodeAt(enrol.body.secret, Date.now()), currentPassword: owner.password },
    });
    const login = await attacker.finish();
    // Assess
    expect(confirm.status, confirm.text).toBe(200);
    expect(login.status, login.text).toBe(401);
    expect(problemType(login)).toBe('credentials-changed');
    const keys = await api.request('GET', `/v1/tenants/${tenantId}/api-keys`, { token: owner.token });
    expect(keys.status, keys.text).toBe(200);
    expect(keys.body.items).toEqual([]);
  });

  it('"sign out everywhere else": a sign-in in flight gets 401 too', async () => {
    // Prepare: an attacker's sign-in held before its session is written
    const owner = await signUp(api, 'race-all');
    const attacker = await signInHeldBeforeItsSession(owner);

    // Act: the owner signs out everywhere else, then the attacker's sign-in finishes
    const out = await api.request('DELETE', '/v1/me/sessions', { token: owner.token });
    const login = await attacker.finish();

    // Assess: the attacker gets no session; the owner's own one stays
    expect(out.status, out.text).toBeLessThan(300);
    expect(login.status, login.text).toBe(401);
    expect(problemType(login)).toBe('credentials-changed');
    expect((await api.request('GET', '/v1/me', { token: owner.token })).status).toBe(200);
  });

  it('MFA removal: a sign-in with a code in flight gets 401; the removing session stays, the others end', async () => {
    // Prepare
    const owner = await signUp(api, 'race-rm');
    const mfa = await enableMfa(api, owner);
    const other = await api.request('POST', '/v1/auth/login', {
      body: {
        email: owner.email,
        password: owner.password,
        mfaCode: totpCodeAt(mfa.secret, mfa.confirmedAt + 30_000),
      },
    });
    expect(other.status, other.text).toBe(200);
    const attacker = await signInHeldBeforeItsSession(owner, { recoveryCode: mfa.recoveryCodes[0]! });
    // Act
    const remove = await api.request('DELETE', '/v1/me/mfa/totp', {
      token: owner.token,
      body: { recoveryCode: mfa.recoveryCodes[1]! },
    });
    const login = await attacker.finish();
    // Assess
    expect(remove.status, remove.text).toBe(204);
    expect(login.status, login.text).toBe(401);
    expect((await api.request('GET', '/v1/me', { token: owner.token })).status).toBe(200);
    const gone = await api.request('GET', '/v1/me', { token: other.body.token });
    expect(gone.status).toBe(401);
  });

  it('a sign-in that verified before a change and one that verified after: only the second gets a session', async () => {
    // Prepare: an attacker's sign-in held before its session is written
    const owner = await signUp(api, 'race-order');
    const newPassword = 'another-new-password-456!';
    const attacker = await signInHeldBeforeItsSession(owner);

    // Act: the password changes
    const change = await api.request('POST', '/v1/me/password', {
      token: owner.token,
      body: { currentPassword: owner.password, newPassword },
    });

    // Assess
    expect(change.status, change.text).toBe(200);

    // Act / Assess: a sign-in with the new password follows, then the held one finishes: only the later one
    // gets a session
    const later = await api.request('POST', '/v1/auth/login', {
      body: { email: owner.email, password: newPassword },
    });
    expect((await attacker.finish()).status).toBe(401);
    expect(later.status, later.text).toBe(200);
    expect((await api.request('GET', '/v1/me', { token: later.body.token })).status).toBe(200);
  });
});

describe('the authorizer refuses a session of an older credential epoch', () => {
  /** A session item written as an in-flight sign-in would have written it before the fix (old epoch). */
  async function sessionOfEpoch(user: TestUser, credentialEpoch: number | undefined): Promise<string> {
    const { session, token } = sessionItem(user, { userAgent: 'stale' });
    const item = {
      ...sessionKey(session.sessionId),
      ...session,
      ...(credentialEpoch === undefined ? {} : { credentialEpoch }),
    };
    await functionRuntime().dynamo.send(
      new PutCommand({ TableName: process.env.IDENTITY_TABLE!, Item: item }),
    );
    return token;
  }

  it('a session the index missed is refused on every route after a password change, legacy ones too', async () => {
    // Prepare
    const owner = await signUp(api, 'stale');
    const tenantId = await createTenant(api, owner, 'Stale Co');
    const change = await api.request('POST', '/v1/me/password', {
      token: owner.token,
      body: { currentPassword: owner.password, newPassword: 'yet-another-password-789!' },
    });
    expect(change.status, change.text).toBe(200);
    const { Item } = await functionRuntime().dynamo.send(
      new GetCommand({
        TableName: process.env.IDENTITY_TABLE!,
        Key: { pk: `USER#${owner.userId}`, sk: 'PROFILE' },
        ConsistentRead: true,
      }),
    );
    const epoch = Item!.credentialEpoch as number;
    const stale = await sessionOfEpoch(owner, epoch - 1);
    const legacy = await sessionOfEpoch(owner, undefined);
    const current = await sessionOfEpoch(owner, epoch);
    // Act
    const answers = [];
    for (const token of [stale, legacy]) {
      answers.push((await api.request('GET', '/v1/me', { token })).status);
      answers.push((await api.request('GET', `/v1/tenants/${tenantId}`, { token })).status);
      answers.push((await api.request('GET', '/v1/me/sessions', { token })).status);
    }
    // Assess
    expect(answers).toEqual([401, 401, 401, 401, 401, 401]);
    const refused = await api.request('GET', '/v1/me', { token: stale });
    expect(problemType(refused)).toBe('session-revoked');
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: current })).status).toBe(200);
    expect((await api.request('GET', `/v1/tenants/${tenantId}`, { token: owner.token })).status).toBe(200);
  });

  it('a user whose sign-in details never changed keeps sessions written before epochs existed', async () => {
    // Prepare: a session written without an epoch
    const user = await signUp(api, 'legacy-ok');
    const legacy = await sessionOfEpoch(user, undefined);

    // Act / Assess
    expect((await api.request('GET', '/v1/me', { token: legacy })).status).toBe(200);
  });

  it('a direct write of a session is refused by the store when the epoch it names has moved', async () => {
    // Prepare: the epoch moved by signing out everywhere
    const user = await signUp(api, 'store');
    const out = await api.request('DELETE', '/v1/me/sessions', { token: user.token });
    expect(out.status, out.text).toBeLessThan(300);

    // Act: a session written naming the old epoch
    const now = Date.now();
    const written = await identity().createSession(
      {
        sessionId: newId('s'),
        userId: user.userId,
        secretHash: hashSecret(newSecret()),
        createdAt: now,
        lastSeenAt: now,
        idleTimeoutSeconds: 60,
        absoluteExpiresAt: now + 60_000,
        ip: '127.0.0.1',
        userAgent: 'x',
      },
      { credentialEpoch: 0, mfaEnabled: false },
    );

    // Assess
    expect(written).toBe(false);
  });
});
