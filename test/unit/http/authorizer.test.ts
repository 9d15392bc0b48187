import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiKeyString, hashSecret, sessionToken } from '../../../shared/domain/credentials.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../../../shared/errors.js';
import { BearerAuthorizer } from '../../../shared/http/auth.js';
import { TenantRefusalError } from '../../../shared/http/auth-context.js';
import { getMe } from '../../../shared/schemas/auth.js';
import { getTenant, listMembers, updateTenant } from '../../../shared/schemas/tenants.js';
import { AuthLookups } from '../../../shared/store/auth-lookups.js';

const db = mockClient(DynamoDBDocumentClient);
const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';
const U1 = 'u_01jx0000000000000000000001';
const S1 = 's_01jx0000000000000000000001';
const K1 = 'k_01jx0000000000000000000001';
const SECRET = 'A'.repeat(43);
const NOW = 1_800_000_000_000;

const session = (overrides: Record<string, unknown> = {}) => ({
  pk: `SESSION#${S1}`,
  sk: 'SESSION',
  sessionId: S1,
  userId: U1,
  secretHash: hashSecret(SECRET),
  createdAt: NOW - 86_400_000,
  lastSeenAt: NOW - 60_000,
  idleTimeoutSeconds: 14 * 86_400,
  absoluteExpiresAt: NOW + 29 * 86_400_000,
  ip: '1.2.3.4',
  userAgent: 'ua',
  ...overrides,
});

function membership(
  role: string,
  settings: Record<string, unknown> = { requireMfa: false },
  mfaEnabled = false,
  keyGeneration?: string,
) {
  return {
    Responses: {
      tenantData: [
        { pk: T1, sk: `MEMBER#${U1}`, userId: U1, tenantId: T1, role, keyGeneration },
        { pk: T1, sk: 'TENANT', tenantId: T1, settings },
      ],
      identity: [{ pk: `USER#${U1}`, sk: 'PROFILE', userId: U1, mfaEnabled }],
    },
  };
}

const event = (token?: string): APIGatewayProxyEvent =>
  ({ headers: token ? { Authorization: `Bearer ${token}` } : {} }) as unknown as APIGatewayProxyEvent;

const authorizer = () =>
  new BearerAuthorizer(
    new AuthLookups(DynamoDBDocumentClient.from(new DynamoDBClient({})), {
      identity: 'identity',
      tenantData: 'tenantData',
    }),
    () => NOW,
  );

describe('BearerAuthorizer', () => {
  beforeEach(() => {
    db.reset();
    db.on(UpdateCommand).resolves({});
  });

  it('needs one read for a session and one batched read for the membership', async () => {
    // Prepare: a session and a viewer's membership
    db.on(GetCommand).resolves({ Item: session() });
    db.on(BatchGetCommand).resolves(membership('viewer'));

    // Act
    const auth = await authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 });

    // Assess: the tenant and role, from one read and one batched read
    expect(auth.tenant?.scope.tenantId).toBe(T1);
    expect(auth.tenant?.roleCeiling).toBe('viewer');
    expect(db).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(db).toHaveReceivedCommandTimes(BatchGetCommand, 1);
  });

  it('answers 401 without a credential, with a forged secret, and for idle or absolutely expired sessions', async () => {
    // Act / Assess: no credential
    await expect(authorizer().authorize(event(), getMe, {})).rejects.toBeInstanceOf(UnauthorizedError);

    // Act / Assess: a forged secret, an idle session, an absolutely expired one
    db.on(GetCommand).resolves({ Item: session() });
    await expect(
      authorizer().authorize(event(sessionToken(S1, 'B'.repeat(43))), getMe, {}),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    db.on(GetCommand).resolves({ Item: session({ lastSeenAt: NOW - 15 * 86_400_000 }) });
    await expect(authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {})).rejects.toThrow(
      /expired/,
    );
    db.on(GetCommand).resolves({ Item: session({ absoluteExpiresAt: NOW - 1 }) });
    await expect(authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {})).rejects.toThrow(
      /expired/,
    );
  });

  it("applies a tenant's shorter session limits on that tenant's routes only", async () => {
    // Prepare: a session idle for two hours; a tenant that allows one
    db.on(GetCommand).resolves({ Item: session({ lastSeenAt: NOW - 2 * 3600_000 }) });
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: false, sessionIdleSeconds: 3600 }));

    // Act / Assess: refused on the tenant's route, accepted elsewhere
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).rejects.toThrow(UnauthorizedError);
    await expect(authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {})).resolves.toBeDefined();
  });

  it("refuses a session older than the user's credential epoch, on tenant and non-tenant routes, with consistent reads", async () => {
    // Prepare: a session of epoch 1, the user at epoch 2
    const profile = { pk: `USER#${U1}`, sk: 'PROFILE', userId: U1, mfaEnabled: false, credentialEpoch: 2 };
    db.on(GetCommand, { Key: { pk: `SESSION#${S1}`, sk: 'SESSION' } }).resolves({
      Item: session({ credentialEpoch: 1 }),
    });
    db.on(GetCommand, { Key: { pk: `USER#${U1}`, sk: 'PROFILE' } }).resolves({ Item: profile });
    const batch = membership('owner');
    batch.Responses.identity = [profile];
    db.on(BatchGetCommand).resolves(batch);

    // Act / Assess
    await expect(authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {})).rejects.toThrow(
      /signed out/,
    );
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).rejects.toThrow(/signed out/);

    // Act / Assess: the session carried over to the new epoch by the change (the one that made it) still
    // works.
    // The session carried over to the new epoch by the change (the one that made it) still works.
    db.on(GetCommand, { Key: { pk: `SESSION#${S1}`, sk: 'SESSION' } }).resolves({
      Item: session({ credentialEpoch: 2 }),
    });
    await expect(authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {})).resolves.toBeDefined();
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).resolves.toBeDefined();

    // Assess: every read consistent
    for (const call of db.commandCalls(GetCommand)) expect(call.args[0].input.ConsistentRead).toBe(true);
  });

  it('answers 404 to non-members and 403 to a role without the permission', async () => {
    // Prepare: a session without a membership
    db.on(GetCommand).resolves({ Item: session() });
    db.on(BatchGetCommand).resolves({ Responses: { tenantData: [], identity: [] } });

    // Act / Assess
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).rejects.toBeInstanceOf(NotFoundError);

    // Act / Assess: an editor on an admin's route
    db.on(BatchGetCommand).resolves(membership('editor'));
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), updateTenant, { tenantId: T1 }),
    ).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('intersects API key scopes with the role, refuses other tenants and expired keys', async () => {
    // Prepare: an owner's key with tenant:read only
    const key = {
      pk: T1,
      sk: `APIKEY#${K1}`,
      keyId: K1,
      tenantId: T1,
      createdBy: U1,
      scopes: ['tenant:read'],
      secretHash: hashSecret(SECRET),
      expiresAt: NOW + 1000,
    };
    db.on(GetCommand).resolves({ Item: key });
    db.on(BatchGetCommand).resolves(membership('owner'));
    const token = apiKeyString(T1, K1, SECRET);

    // Act / Assess: the scope only; not another route's permission, not another tenant
    const ok = await authorizer().authorize(event(token), getTenant, { tenantId: T1 });
    expect([...(ok.tenant?.permissions ?? [])]).toEqual(['tenant:read']);
    await expect(authorizer().authorize(event(token), listMembers, { tenantId: T1 })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(authorizer().authorize(event(token), getTenant, { tenantId: T2 })).rejects.toBeInstanceOf(
      NotFoundError,
    );

    // Act / Assess: expired
    db.on(GetCommand).resolves({ Item: { ...key, expiresAt: NOW } });
    await expect(authorizer().authorize(event(token), getTenant, { tenantId: T1 })).rejects.toThrow(
      /expired/,
    );
  });

  it('refuses a key that outlived its membership: re-added, demoted below api-keys:create, or removed (401)', async () => {
    // Prepare: a key of membership generation g1, an editor of g1 accepted
    const key = {
      pk: T1,
      sk: `APIKEY#${K1}`,
      keyId: K1,
      tenantId: T1,
      createdBy: U1,
      scopes: ['tenant:read'],
      secretHash: hashSecret(SECRET),
      expiresAt: NOW + 1000,
      memberGeneration: 'g1',
    };
    const token = apiKeyString(T1, K1, SECRET);
    db.on(GetCommand).resolves({ Item: key });
    db.on(BatchGetCommand).resolves(membership('editor', undefined, false, 'g1'));
    await expect(authorizer().authorize(event(token), getTenant, { tenantId: T1 })).resolves.toBeDefined();

    // Act / Assess: re-added (another generation), from before generations, demoted
    for (const [role, generation] of [
      ['editor', 'g2'],
      ['editor', undefined],
      ['reviewer', 'g1'],
    ] as const) {
      db.on(BatchGetCommand).resolves(membership(role, undefined, false, generation));
      await expect(
        authorizer().authorize(event(token), getTenant, { tenantId: T1 }),
        `${role} ${generation}`,
      ).rejects.toMatchObject({ status: 401, type: 'api-key-revoked' });
      await expect(authorizer().authorize(event(token), getMe, {})).rejects.toMatchObject({ status: 401 });
    }

    // Act / Assess: removed
    db.on(BatchGetCommand).resolves({ Responses: { tenantData: [], identity: [] } });
    await expect(authorizer().authorize(event(token), getTenant, { tenantId: T1 })).rejects.toMatchObject({
      status: 401,
    });
  });

  it("resolves an API key's own tenant (only) on routes that name none", async () => {
    // Prepare: an editor's key with two scopes
    db.on(GetCommand).resolves({
      Item: {
        pk: T1,
        sk: `APIKEY#${K1}`,
        keyId: K1,
        tenantId: T1,
        createdBy: U1,
        scopes: ['tenant:read', 'members:manage'],
        secretHash: hashSecret(SECRET),
        expiresAt: NOW + 1000,
      },
    });
    db.on(BatchGetCommand).resolves(membership('editor'));

    // Act
    const auth = await authorizer().authorize(event(apiKeyString(T1, K1, SECRET)), getMe, {});

    // Assess: the key's tenant, its scopes within the role, and the key as principal
    expect(auth.tenant?.scope.tenantId).toBe(T1);
    expect([...(auth.tenant?.permissions ?? [])]).toEqual(['tenant:read']);
    expect(auth.principal).toMatchObject({ kind: 'api-key', keyTenantId: T1, credentialId: K1 });

    // Act / Assess: a session on the same route reads no membership at all.
    db.reset();
    db.on(GetCommand).resolves({ Item: session() });
    db.on(UpdateCommand).resolves({});
    const own = await authorizer().authorize(event(sessionToken(S1, SECRET)), getMe, {});
    expect(own.tenant).toBeUndefined();
    expect(db).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  it('refuses tenant members without MFA when the tenant requires it', async () => {
    // Prepare: an owner without MFA enrolled in a tenant that requires it
    db.on(GetCommand).resolves({ Item: session({ authMethod: 'password+totp', mfa: true }) });
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: true }, false));

    // Act / Assess
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).rejects.toMatchObject({ status: 403, type: 'mfa-enrolment-required' });

    // Act / Assess: once enrolled
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: true }, true));
    const ok = await authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 });
    expect(ok.principal).toMatchObject({ authMethod: 'password+totp', mfa: true, mfaEnabled: true });
    expect(ok.tenant?.requireMfa).toBe(true);
  });

  it('enforces requireMfa on the session: a password-only session of an enrolled user is refused, carrying the membership for the audit log', async () => {
    // Prepare: the user has MFA now, but this session was signed in with the password only (or predates
    // sessions recording how they were authenticated)
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: true }, true));
    for (const item of [session({ authMethod: 'password', mfa: false }), session()]) {
      db.on(GetCommand).resolves({ Item: item });
      // Act
      const refused = await authorizer()
        .authorize(event(sessionToken(S1, SECRET)), updateTenant, { tenantId: T1 })
        .catch((error: unknown) => error);
      // Assess
      expect(refused).toBeInstanceOf(TenantRefusalError);
      expect(refused).toMatchObject({
        status: 403,
        type: 'mfa-session-required',
        reason: 'mfa-session-required',
        access: { scope: { tenantId: T1, userId: U1 }, principal: { kind: 'session', mfa: false } },
      });
    }
    // The same session is fine in a tenant that does not require MFA.
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: false }, true));
    await expect(
      authorizer().authorize(event(sessionToken(S1, SECRET)), getTenant, { tenantId: T1 }),
    ).resolves.toBeDefined();
  });

  it('refuses a missing permission as permission-missing, carrying the membership', async () => {
    // Prepare: a viewer
    db.on(GetCommand).resolves({ Item: session() });
    db.on(BatchGetCommand).resolves(membership('viewer', {}, false));
    // Act
    const refused = await authorizer()
      .authorize(event(sessionToken(S1, SECRET)), updateTenant, { tenantId: T1 })
      .catch((error: unknown) => error);
    // Assess
    expect(refused).toBeInstanceOf(TenantRefusalError);
    expect(refused).toMatchObject({
      status: 403,
      type: 'forbidden',
      reason: 'permission-missing',
      access: { scope: { tenantId: T1, userId: U1 }, principal: { kind: 'session' } },
    });
  });

  it('accepts in an MFA tenant only API keys minted by an MFA session', async () => {
    // Prepare: an MFA tenant's owner, and keys minted with and without MFA
    const key = (createdWithMfa?: boolean) => ({
      pk: T1,
      sk: `APIKEY#${K1}`,
      keyId: K1,
      tenantId: T1,
      createdBy: U1,
      scopes: ['tenant:read'],
      secretHash: hashSecret(SECRET),
      expiresAt: NOW + 1000,
      ...(createdWithMfa === undefined ? {} : { createdWithMfa }),
    });
    db.on(BatchGetCommand).resolves(membership('owner', { requireMfa: true }, true));
    const token = apiKeyString(T1, K1, SECRET);

    // Act / Assess: keys from before the flag, or minted without MFA
    for (const legacy of [key(), key(false)]) {
      db.on(GetCommand).resolves({ Item: legacy });
      await expect(authorizer().authorize(event(token), getTenant, { tenantId: T1 })).rejects.toMatchObject({
        status: 403,
        type: 'mfa-session-required',
      });
    }

    // Act / Assess: a key minted by an MFA session
    db.on(GetCommand).resolves({ Item: key(true) });
    const ok = await authorizer().authorize(event(token), getTenant, { tenantId: T1 });
    expect(ok.principal).toMatchObject({ kind: 'api-key', mfa: true });
  });
});
