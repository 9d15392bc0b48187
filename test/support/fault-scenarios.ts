import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { clientConfig } from '../../shared/aws/runtime.js';
import { totpCodeAt } from '../../shared/crypto/totp.js';
import { STORAGE_ACCESS_SK } from '../../shared/domain/item-layout.js';
import {
  TENANT_STORAGE_POLICY_NAME,
  tenantStorageRoleName,
  tenantStorageRolePolicy,
} from '../../shared/domain/tenant-storage-role.js';
import { INVITATION_LIMITS } from '../../shared/services/invitations.js';
import {
  addMember,
  createTenant,
  enableMfa,
  inboxApi,
  invite,
  signUp,
  signUpUnverified,
  type TestUser,
} from './identity-fixtures.js';
import { TEST_CONSOLE_URL } from './integration-setup.js';
import type { TestApi, TestResponse } from './local-api.js';
import type { TestOidcProvider } from './oidc-provider.js';
import { SoftwareAuthenticator } from './passkey-authenticator.js';
import type { TestPostgres } from './postgres.js';

/**
 * One valid request of a route, ready to send: sending it again must be possible for as long as no run of
 * it changed anything (each send may use fresh names, addresses and codes).
 */
export type ScenarioAct = () => Promise<TestResponse>;

/** What scenarios share: the API, one tenant with its owner (made at first use), and the test servers. */
export interface FaultWorld {
  api: TestApi;
  /**
   * A tenant and its owner, shared by the scenarios that only add to it. `invitations`: how many the setup
   * will send from the owner, who may send INVITATION_LIMITS.perInviter an hour: the tenant is replaced by a
   * new one when they would pass that.
   */
  tenant(invitations?: number): Promise<{ owner: TestUser; tenantId: string }>;
  /** The OpenID provider configured as `test-idp`. */
  idp: TestOidcProvider;
  /** A Postgres server with a `customers` table readable by `app` / `appPassword`. */
  postgres(): Promise<{ pg: TestPostgres; user: string; password: string }>;
}

export interface FaultScenario {
  /** `METHOD /path` of the route, as in the route list. */
  route: string;
  /** What sets this scenario apart from the route's first (a route may have several). */
  variant?: string;
  /** The status the valid request answers when nothing fails. */
  status: number;
  /** Prepares what the request needs (through the API, as a client would) and returns it. */
  setup: (world: FaultWorld) => Promise<ScenarioAct>;
  /**
   * The request consumes something outside AWS that a failed run cannot give back (an authorization code
   * at the OpenID provider): set up afresh before every run.
   */
  setupEachRun?: boolean;
  /**
   * The request spends a budget of its caller's that a failed run does not give back (a rate limit counts
   * requests, not successes): set up afresh, with a caller of its own, after this many runs.
   */
  runsPerSetup?: number;
  /**
   * The request may be sent again after it succeeded (it names fresh things each time, and no cache it
   * warms skips a call): the counted run and the faulted runs share one setup.
   */
  repeatable?: boolean;
}

let unique = 0;
/** A name no other request of the run used. */
const fresh = (label: string) => `${label}-${++unique}-${Date.now().toString(36)}`;
const ORIGIN = new URL(TEST_CONSOLE_URL).origin;
const RP_ID = new URL(TEST_CONSOLE_URL).hostname;

function ok(res: TestResponse, status: number, what: string): TestResponse {
  expect(res.status, `${what}: ${res.text}`).toBe(status);
  return res;
}

/** An owner (verified address: tenant creation asks for it) with a tenant of their own. */
async function ownTenant(api: TestApi, label: string): Promise<{ owner: TestUser; tenantId: string }> {
  const owner = await signUp(api, label);
  return { owner, tenantId: await createTenant(api, owner, fresh(label)) };
}

/** Another session of `user` (a sign-in from another address). */
async function anotherSession(api: TestApi, user: TestUser): Promise<string> {
  const res = ok(
    await api.request('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } }),
    200,
    'login',
  );
  return res.body.token;
}

/**
 * The tenant's storage role as a deployment before the current grant left it: an inline grant without the
 * tenant-key statements and a record without a grant version (the next vend rewrites both).
 */
async function roleUnderOlderGrant(tenantId: string): Promise<void> {
  const iam = new IAMClient(clientConfig());
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig()));
  try {
    const policy = tenantStorageRolePolicy({
      tenantId,
      bucketArn: `arn:aws:s3:::${process.env.STORAGE_BUCKET}`,
      storageKeyArn: process.env.STORAGE_KEY_ARN!,
    });
    policy.Statement = policy.Statement.filter((s) => !s.Sid?.startsWith('TenantKey'));
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: tenantStorageRoleName(tenantId),
        PolicyName: TENANT_STORAGE_POLICY_NAME,
        PolicyDocument: JSON.stringify(policy),
      }),
    );
    await db.send(
      new UpdateCommand({
        TableName: process.env.TENANT_DATA_TABLE,
        Key: { pk: tenantId, sk: STORAGE_ACCESS_SK },
        UpdateExpression: 'REMOVE #role.grantVersion',
        ExpressionAttributeNames: { '#role': 'role' },
      }),
    );
  } finally {
    iam.destroy();
    db.destroy();
  }
}

/**
 * Two objects (one written twice) and an incomplete multipart upload with one part in a managed location, as a
 * client with vended credentials leaves them: the deletion's purge aborts the upload, then deletes the versions.
 */
async function objectsIn(prefix: string): Promise<void> {
  const s3 = new S3Client({ ...clientConfig(), forcePathStyle: true });
  const Bucket = process.env.STORAGE_BUCKET!;
  try {
    for (const [key, body] of [
      ['a.csv', '1'],
      ['a.csv', '2'],
      ['b/c.json', '{}'],
    ])
      await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}/${key}`, Body: body }));
    const Key = `${prefix}/big.parquet`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'part' }));
  } finally {
    s3.destroy();
  }
}

/**
 * A location at an S3-compatible store, signing-only: the emulator itself stands in for the store (its own
 * bucket there; moto accepts any key pair).
 */
async function storeLocation(api: TestApi, owner: TestUser, tenantId: string) {
  const endpoint = clientConfig().endpoint!;
  const bucket = fresh('store')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  const s3 = new S3Client({ ...clientConfig(), forcePathStyle: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  const res = ok(
    await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
      token: owner.token,
      body: {
        root: `s3://${bucket}/data`,
        endpoint,
        accessKeyId: 'store-key-1',
        secretAccessKey: 'store-secret-1',
      },
    }),
    201,
    'store location',
  );
  return { locationId: res.body.locationId as string };
}

async function managedLocation(api: TestApi, owner: TestUser, tenantId: string) {
  const res = ok(
    await api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
      token: owner.token,
      body: { managed: true },
    }),
    201,
    'managed location',
  );
  return {
    locationId: res.body.locationId as string,
    root: res.body.root as string,
    prefix: res.body.prefix as string,
  };
}

/** A Postgres connection of the tenant (nothing is dialled to create it); its id. */
async function connection(api: TestApi, owner: TestUser, tenantId: string): Promise<string> {
  const res = ok(
    await api.request('POST', `/v1/tenants/${tenantId}/connections`, {
      token: owner.token,
      body: {
        name: fresh('db'),
        host: 'db.example.com',
        database: 'app',
        user: 'reader',
        password: fresh('pw'),
      },
    }),
    201,
    'connection',
  );
  return res.body.connectionId;
}

/** A tenant of its own with a connection to the test Postgres (a cold tenant key); the path of the connection. */
async function livePostgresConnection(
  world: FaultWorld,
  label: string,
): Promise<{ owner: TestUser; path: string }> {
  const { pg, user, password } = await world.postgres();
  const { owner, tenantId } = await ownTenant(world.api, label);
  const created = ok(
    await world.api.request('POST', `/v1/tenants/${tenantId}/connections`, {
      token: owner.token,
      body: { name: 'Shop', host: pg.host, port: pg.port, database: pg.database, user, password },
    }),
    201,
    'connection',
  );
  return { owner, path: `/v1/tenants/${tenantId}/connections/${created.body.connectionId}` };
}

/** A user (verified address) with a passkey of `device` registered in their session. */
async function userWithPasskey(api: TestApi) {
  const user = await signUp(api, 'passkey');
  const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
  const options = ok(
    await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token }),
    200,
    'registration options',
  ).body;
  const added = ok(
    await api.request('POST', '/v1/me/passkeys', {
      token: user.token,
      body: {
        challengeId: options.challengeId,
        credential: device.register(options.options),
        name: 'Laptop',
        currentPassword: user.password,
      },
    }),
    201,
    'passkey',
  );
  return { user, device, passkeyId: added.body.passkey.passkeyId as string };
}

/** A passkey session (an MFA session, as a step-up needs) of a user with a passkey. */
async function passkeySession(api: TestApi) {
  const { user, device, passkeyId } = await userWithPasskey(api);
  const options = ok(await api.request('POST', '/v1/auth/passkeys/options'), 200, 'sign-in options').body;
  const signedIn = ok(
    await api.request('POST', '/v1/auth/passkeys/sign-in', {
      body: { challengeId: options.challengeId, credential: device.assert(options.options) },
    }),
    200,
    'passkey sign-in',
  );
  return { token: signedIn.body.token as string, device, user, passkeyId };
}

/** A fresh account at the test provider. */
const providerAccount = () => {
  const sub = fresh('idp');
  return { sub, email: `${sub}@elsewhere.test`, email_verified: true, name: 'IdP User' };
};

/** The callback body of a flow started with `start`, signed in at the provider as `account`. */
async function providerCallback(
  idp: TestOidcProvider,
  start: TestResponse,
  account: ReturnType<typeof providerAccount>,
) {
  idp.signInAs(account);
  const url = await idp.authorize(start.body.authorizationUrl);
  return {
    state: url.searchParams.get('state')!,
    code: url.searchParams.get('code')!,
    iss: url.searchParams.get('iss') ?? undefined,
    flowToken: start.body.flowToken,
  };
}

/** A tenant IdP configuration of the test provider (not enforced). */
function tenantSsoBody(idp: TestOidcProvider, overrides: Record<string, unknown> = {}) {
  return {
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    allowedDomains: ['corp.example.test'],
    enforced: false,
    ...overrides,
  };
}

/** A user with a provider identity linked; the identity's id. */
async function userWithLinkedIdentity(world: FaultWorld) {
  const { api, idp } = world;
  const user = await signUp(api, 'linked');
  const start = ok(
    await api.request('POST', '/v1/me/oidc/link', {
      token: user.token,
      body: { provider: 'test-idp', currentPassword: user.password },
    }),
    200,
    'link start',
  );
  const body = await providerCallback(idp, start, providerAccount());
  ok(await api.request('POST', '/v1/auth/oidc/callback', { body }), 200, 'link callback');
  const list = ok(
    await api.request('GET', '/v1/me/oidc/identities', { token: user.token }),
    200,
    'identities',
  );
  return { user, identityId: list.body.items[0].identityId as string };
}

/**
 * A valid request of every state-changing route (test/integration/fault-injection.test.ts fails for a route
 * with none). The harness, not this table, finds which AWS calls each one makes.
 */
export const FAULT_SCENARIOS: FaultScenario[] = [
  // Accounts and sessions
  {
    route: 'POST /v1/auth/register',
    repeatable: true,
    status: 202,
    setup:
      async ({ api }) =>
      () =>
        api.request('POST', '/v1/auth/register', {
          body: { email: `${fresh('reg')}@example.test`, password: 'a-long-enough-password!', name: 'Reg' },
        }),
  },
  {
    route: 'POST /v1/auth/login',
    repeatable: true,
    status: 200,
    setup: async ({ api }) => {
      const user = await signUp(api, 'login');
      return () =>
        api.request('POST', '/v1/auth/login', { body: { email: user.email, password: user.password } });
    },
  },
  {
    route: 'POST /v1/auth/logout',
    status: 204,
    setup: async ({ api }) => {
      const token = await anotherSession(api, (await ownTenant(api, 'logout')).owner);
      return () => api.request('POST', '/v1/auth/logout', { token });
    },
  },
  {
    route: 'DELETE /v1/me/sessions/{sessionId}',
    status: 204,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'revoke-one');
      await anotherSession(api, user);
      const list = ok(await api.request('GET', '/v1/me/sessions', { token: user.token }), 200, 'sessions');
      const other = list.body.items.find((s: { current: boolean }) => !s.current).sessionId;
      return () => api.request('DELETE', `/v1/me/sessions/${other}`, { token: user.token });
    },
  },
  {
    route: 'DELETE /v1/me/sessions',
    status: 200,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'revoke-all');
      await anotherSession(api, user);
      return () => api.request('DELETE', '/v1/me/sessions', { token: user.token });
    },
  },
  {
    route: 'POST /v1/me/password',
    status: 200,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'password');
      return () =>
        api.request('POST', '/v1/me/password', {
          token: user.token,
          body: { currentPassword: user.password, newPassword: `${fresh('new-password')}!` },
        });
    },
  },
  {
    route: 'POST /v1/me/mfa/totp',
    repeatable: true,
    status: 201,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'totp-enrol');
      return () => api.request('POST', '/v1/me/mfa/totp', { token: user.token });
    },
  },
  {
    route: 'POST /v1/me/mfa/totp/confirm',
    status: 200,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'totp-confirm');
      const enrol = ok(await api.request('POST', '/v1/me/mfa/totp', { token: user.token }), 201, 'enrol');
      return () =>
        api.request('POST', '/v1/me/mfa/totp/confirm', {
          token: user.token,
          body: { code: totpCodeAt(enrol.body.secret, Date.now()), currentPassword: user.password },
        });
    },
  },
  {
    route: 'DELETE /v1/me/mfa/totp',
    status: 204,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'totp-remove');
      const mfa = await enableMfa(api, user);
      // A run that fails after the code was accepted spends it (allowed): each send takes the next code.
      let next = 0;
      return () =>
        api.request('DELETE', '/v1/me/mfa/totp', {
          token: user.token,
          body: { recoveryCode: mfa.recoveryCodes[next++ % mfa.recoveryCodes.length] },
        });
    },
  },
  {
    route: 'POST /v1/me/email/verification',
    repeatable: true,
    status: 202,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'resend');
      return () => api.request('POST', '/v1/me/email/verification', { token: user.token });
    },
  },
  {
    route: 'POST /v1/auth/verify-email',
    status: 200,
    setup: async ({ api }) => {
      const user = await signUpUnverified(api, 'verify');
      const token = linkIn(
        await takeMail(inboxApi(), user.email, /^Verify your e-mail/),
        '/verify-email',
      ).token;
      return () => api.request('POST', '/v1/auth/verify-email', { body: { token } });
    },
  },
  {
    route: 'POST /v1/auth/password-reset',
    repeatable: true,
    status: 202,
    setup: async ({ api }) => {
      const user = await signUp(api, 'reset-ask');
      return () => api.request('POST', '/v1/auth/password-reset', { body: { email: user.email } });
    },
  },
  {
    route: 'POST /v1/auth/password-reset/confirm',
    status: 200,
    setup: async ({ api }) => {
      const user = await signUp(api, 'reset-confirm');
      ok(await api.request('POST', '/v1/auth/password-reset', { body: { email: user.email } }), 202, 'reset');
      const token = linkIn(await takeMail(inboxApi(), user.email, /reset/i), '/reset-password').token;
      return () =>
        api.request('POST', '/v1/auth/password-reset/confirm', {
          body: { token, newPassword: `${fresh('reset-password')}!` },
        });
    },
  },

  // Passkeys
  {
    route: 'POST /v1/me/passkeys/registration-options',
    repeatable: true,
    status: 200,
    setup: async ({ api }) => {
      const user = await signUp(api, 'passkey-options');
      return () => api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token });
    },
  },
  {
    route: 'POST /v1/me/passkeys',
    status: 201,
    setup: async ({ api }) => {
      const user = await signUp(api, 'passkey-add');
      const device = new SoftwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const options = ok(
        await api.request('POST', '/v1/me/passkeys/registration-options', { token: user.token }),
        200,
        'registration options',
      ).body;
      return () =>
        api.request('POST', '/v1/me/passkeys', {
          token: user.token,
          body: {
            challengeId: options.challengeId,
            credential: device.register(options.options),
            name: 'Laptop',
            currentPassword: user.password,
          },
        });
    },
  },
  {
    route: 'PATCH /v1/me/passkeys/{passkeyId}',
    status: 200,
    setup: async ({ api }) => {
      const { user, passkeyId } = await userWithPasskey(api);
      return () =>
        api.request('PATCH', `/v1/me/passkeys/${passkeyId}`, {
          token: user.token,
          body: { name: fresh('key') },
        });
    },
  },
  {
    route: 'DELETE /v1/me/passkeys/{passkeyId}',
    status: 200,
    // The step-up token is spent by the first run that gets that far: every run starts with a new one.
    setupEachRun: true,
    setup: async ({ api }) => {
      // Removing a second factor needs a session that proved one (the passkey's own), and removing the
      // last one a step-up token of that session
      const { user, passkeyId, token, device } = await passkeySession(api);
      const options = ok(
        await api.request('POST', '/v1/me/step-up/passkey/options', { token }),
        200,
        'step-up options',
      ).body;
      const stepUp = ok(
        await api.request('POST', '/v1/me/step-up/passkey', {
          token,
          body: { challengeId: options.challengeId, credential: device.assert(options.options) },
        }),
        201,
        'step-up',
      ).body;
      return () =>
        api.request('DELETE', `/v1/me/passkeys/${passkeyId}`, {
          token,
          body: { currentPassword: user.password, stepUpToken: stepUp.stepUpToken },
        });
    },
  },
  {
    route: 'POST /v1/auth/passkeys/options',
    repeatable: true,
    status: 200,
    setup:
      async ({ api }) =>
      () =>
        api.request('POST', '/v1/auth/passkeys/options'),
  },
  {
    route: 'POST /v1/auth/passkeys/sign-in',
    status: 200,
    setup: async ({ api }) => {
      const { device } = await userWithPasskey(api);
      const options = ok(await api.request('POST', '/v1/auth/passkeys/options'), 200, 'sign-in options').body;
      return () =>
        api.request('POST', '/v1/auth/passkeys/sign-in', {
          body: { challengeId: options.challengeId, credential: device.assert(options.options) },
        });
    },
  },

  {
    route: 'POST /v1/me/step-up/passkey/options',
    repeatable: true,
    status: 200,
    setup: async ({ api }) => {
      const { token } = await passkeySession(api);
      return () => api.request('POST', '/v1/me/step-up/passkey/options', { token });
    },
  },
  {
    route: 'POST /v1/me/step-up/passkey',
    // The challenge is spent by the first check (right or wrong): every run starts with new options.
    setupEachRun: true,
    status: 201,
    setup: async ({ api }) => {
      const { token, device } = await passkeySession(api);
      const options = ok(
        await api.request('POST', '/v1/me/step-up/passkey/options', { token }),
        200,
        'step-up options',
      ).body;
      return () =>
        api.request('POST', '/v1/me/step-up/passkey', {
          token,
          body: { challengeId: options.challengeId, credential: device.assert(options.options) },
        });
    },
  },

  // OpenID Connect
  {
    route: 'POST /v1/auth/oidc/start',
    repeatable: true,
    status: 200,
    setup:
      async ({ api }) =>
      () =>
        api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } }),
  },
  {
    route: 'POST /v1/me/oidc/link',
    repeatable: true,
    status: 200,
    setup: async ({ api }) => {
      const user = await signUp(api, 'link-start');
      return () =>
        api.request('POST', '/v1/me/oidc/link', {
          token: user.token,
          body: { provider: 'test-idp', currentPassword: user.password },
        });
    },
  },
  {
    route: 'POST /v1/auth/oidc/callback',
    status: 200,
    setupEachRun: true,
    setup: async ({ api, idp }) => {
      // A sign-in that creates an account: the most writes a callback makes.
      const start = ok(
        await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } }),
        200,
        'oidc start',
      );
      const body = await providerCallback(idp, start, providerAccount());
      return () => api.request('POST', '/v1/auth/oidc/callback', { body });
    },
  },
  {
    route: 'POST /v1/auth/oidc/link/confirm',
    status: 200,
    setup: async ({ api, idp }) => {
      // A verified account whose address an identity at the provider asserts: the sign-in mails a link.
      const owner = await signUp(api, 'mail-link');
      const start = ok(
        await api.request('POST', '/v1/auth/oidc/start', { body: { provider: 'test-idp' } }),
        200,
        'oidc start',
      );
      const body = await providerCallback(idp, start, { ...providerAccount(), email: owner.email });
      ok(await api.request('POST', '/v1/auth/oidc/callback', { body }), 409, 'link required');
      const mail = await takeMail(inboxApi(), owner.email, /^Confirm signing in to Strongroom/);
      const { token } = linkIn(mail, '/confirm-sso-link');
      return () =>
        api.request('POST', '/v1/auth/oidc/link/confirm', {
          body: { token, currentPassword: owner.password },
        });
    },
  },
  {
    route: 'DELETE /v1/me/oidc/identities/{identityId}',
    status: 204,
    setup: async (world) => {
      const { user, identityId } = await userWithLinkedIdentity(world);
      return () =>
        world.api.request('DELETE', `/v1/me/oidc/identities/${identityId}`, {
          token: user.token,
          body: { currentPassword: user.password },
        });
    },
  },

  // Tenants, members, keys, invitations
  {
    route: 'POST /v1/tenants',
    repeatable: true,
    status: 201,
    setup: async ({ api }) => {
      const user = await signUp(api, 'tenant-create');
      return () => api.request('POST', '/v1/tenants', { token: user.token, body: { name: fresh('Acme') } });
    },
  },
  {
    route: 'PATCH /v1/tenants/{tenantId}',
    repeatable: true,
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      return () =>
        api.request('PATCH', `/v1/tenants/${tenantId}`, {
          token: owner.token,
          body: { name: fresh('Renamed'), settings: { sessionIdleSeconds: 86_400 } },
        });
    },
  },
  {
    route: 'PUT /v1/tenants/{tenantId}/sso',
    repeatable: true,
    status: 200,
    setup: async ({ api, idp }) => {
      const { owner, tenantId } = await ownTenant(api, 'sso-put');
      // A new secret each time: the secret is encrypted (KMS) on every send.
      return () =>
        api.request('PUT', `/v1/tenants/${tenantId}/sso`, {
          token: owner.token,
          body: tenantSsoBody(idp, { clientSecret: fresh('secret') }),
        });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/sso',
    status: 204,
    setup: async ({ api, idp }) => {
      const { owner, tenantId } = await ownTenant(api, 'sso-delete');
      ok(
        await api.request('PUT', `/v1/tenants/${tenantId}/sso`, {
          token: owner.token,
          body: tenantSsoBody(idp),
        }),
        200,
        'configure the tenant IdP',
      );
      return () => api.request('DELETE', `/v1/tenants/${tenantId}/sso`, { token: owner.token });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}',
    status: 204,
    setup: async ({ api }) => {
      const { owner, tenantId } = await ownTenant(api, 'tenant-delete');
      // Its managed objects are deleted too (ListObjectVersions, DeleteObjects).
      await objectsIn((await managedLocation(api, owner, tenantId)).prefix);
      const mfa = await enableMfa(api, owner);
      // A run that fails after the code was accepted spends it (allowed): each send takes the next code.
      let next = 0;
      return () =>
        api.request('DELETE', `/v1/tenants/${tenantId}`, {
          token: owner.token,
          body: { recoveryCode: mfa.recoveryCodes[next++ % mfa.recoveryCodes.length] },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/exports',
    repeatable: true,
    status: 201,
    setup: async ({ api }) => {
      const { owner, tenantId } = await ownTenant(api, 'export');
      return () => api.request('POST', `/v1/tenants/${tenantId}/exports`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/members',
    repeatable: true,
    // An inviter may send INVITATION_LIMITS.perInviter invitations an hour, and the full matrix sends more:
    // each batch of runs (and the counted one) comes from an owner and tenant of its own, never the shared
    // owner, whose invitations the member and invitation scenarios below need.
    runsPerSetup: INVITATION_LIMITS.perInviter.limit - 2,
    status: 201,
    setup: async ({ api }) => {
      const { owner, tenantId } = await ownTenant(api, 'inviter');
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/members`, {
          token: owner.token,
          body: { email: `${fresh('invitee')}@example.test`, role: 'editor' },
        });
    },
  },
  {
    route: 'PATCH /v1/tenants/{tenantId}/members/{userId}',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant(1);
      const member = await signUp(api, 'member-role');
      await addMember(api, owner, tenantId, member, 'viewer');
      return () =>
        api.request('PATCH', `/v1/tenants/${tenantId}/members/${member.userId}`, {
          token: owner.token,
          body: { role: 'editor' },
        });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/members/{userId}',
    status: 204,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant(1);
      const member = await signUp(api, 'member-remove');
      await addMember(api, owner, tenantId, member, 'editor');
      return () =>
        api.request('DELETE', `/v1/tenants/${tenantId}/members/${member.userId}`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/api-keys',
    repeatable: true,
    status: 201,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
          token: owner.token,
          body: { name: fresh('key'), scopes: ['tenant:read', 'instances:read'] },
        });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/api-keys/{keyId}',
    status: 204,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const key = ok(
        await api.request('POST', `/v1/tenants/${tenantId}/api-keys`, {
          token: owner.token,
          body: { name: fresh('key'), scopes: ['tenant:read'] },
        }),
        201,
        'api key',
      );
      return () =>
        api.request('DELETE', `/v1/tenants/${tenantId}/api-keys/${key.body.keyId}`, { token: owner.token });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/invitations/{invitationId}',
    status: 204,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant(1);
      const invitationId = await invite(api, owner, tenantId, `${fresh('cancelled')}@example.test`, 'viewer');
      return () =>
        api.request('DELETE', `/v1/tenants/${tenantId}/invitations/${invitationId}`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/me/invitations/{invitationId}/accept',
    status: 201,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant(1);
      const invitee = await signUp(api, 'accepting');
      const invitationId = await invite(api, owner, tenantId, invitee.email, 'viewer');
      return () => api.request('POST', `/v1/me/invitations/${invitationId}/accept`, { token: invitee.token });
    },
  },
  {
    route: 'POST /v1/me/invitations/{invitationId}/decline',
    status: 204,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant(1);
      const invitee = await signUp(api, 'declining');
      const invitationId = await invite(api, owner, tenantId, invitee.email, 'viewer');
      return () =>
        api.request('POST', `/v1/me/invitations/${invitationId}/decline`, { token: invitee.token });
    },
  },

  // Storage
  {
    route: 'POST /v1/tenants/{tenantId}/instances',
    repeatable: true,
    status: 201,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId } = await managedLocation(api, owner, tenantId);
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/instances`, {
          token: owner.token,
          body: { name: fresh('lake'), defaultStorageRoot: locationId },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-locations',
    repeatable: true,
    status: 201,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-locations`, {
          token: owner.token,
          body: { managed: true },
        });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/storage-locations/{locationId}',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId, prefix } = await managedLocation(api, owner, tenantId);
      // Its objects are deleted before the location (ListObjectVersions, DeleteObjects).
      await objectsIn(prefix);
      return () =>
        api.request('DELETE', `/v1/tenants/${tenantId}/storage-locations/${locationId}`, {
          token: owner.token,
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-credentials',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId } = await managedLocation(api, owner, tenantId);
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
          token: owner.token,
          body: { location: locationId, access: 'write' },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-credentials',
    variant: 'a role made under an older grant',
    status: 200,
    // The vend rewrites the role's grant first; a run that failed after that step would leave later runs
    // without it, so each run starts from an older role again.
    setupEachRun: true,
    setup: async ({ api }) => {
      const { owner, tenantId } = await ownTenant(api, 'regrant');
      const { locationId } = await managedLocation(api, owner, tenantId);
      await roleUnderOlderGrant(tenantId);
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
          token: owner.token,
          body: { location: locationId, access: 'write' },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-credentials/revocations',
    status: 200,
    setup: async ({ api }) => {
      const { owner, tenantId } = await ownTenant(api, 'revoker');
      const { locationId } = await managedLocation(api, owner, tenantId);
      const holder = await signUp(api, 'holder');
      await addMember(api, owner, tenantId, holder, 'editor');
      ok(
        await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
          token: holder.token,
          body: { location: locationId, access: 'read' },
        }),
        200,
        'vend',
      );
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-credentials/revocations`, {
          token: owner.token,
          body: { userId: holder.userId },
        });
    },
  },
  {
    route: 'POST /compat/lamin/storages/credentials',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { root } = await managedLocation(api, owner, tenantId);
      return () =>
        api.request('POST', '/compat/lamin/storages/credentials', {
          token: owner.token,
          body: { path: `${root}/raw/hello.txt`, duration_seconds: 900 },
        });
    },
  },
  {
    route: 'PATCH /v1/tenants/{tenantId}/storage-locations/{locationId}',
    repeatable: true,
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId } = await storeLocation(api, owner, tenantId);
      return () =>
        api.request('PATCH', `/v1/tenants/${tenantId}/storage-locations/${locationId}`, {
          token: owner.token,
          body: { accessKeyId: fresh('key'), secretAccessKey: 'store-secret-2' },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-locations/{locationId}/sign',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId } = await managedLocation(api, owner, tenantId);
      // Where the store is (a read vend: the signature below needs write credentials, not cached by this).
      const where = ok(
        await api.request('POST', `/v1/tenants/${tenantId}/storage-credentials`, {
          token: owner.token,
          body: { location: locationId, access: 'read' },
        }),
        200,
        'vend for the endpoint',
      ).body;
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-locations/${locationId}/sign`, {
          token: owner.token,
          body: {
            region: where.region,
            uri: `${where.endpoint}/${where.bucket}/${where.prefix}/fault/object.txt`,
            method: 'PUT',
            headers: { 'content-type': ['text/plain'], 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'] },
          },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/storage-locations/{locationId}/validate',
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const { locationId } = await managedLocation(api, owner, tenantId);
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/storage-locations/${locationId}/validate`, {
          token: owner.token,
        });
    },
  },

  // Connections and queries
  {
    route: 'POST /v1/tenants/{tenantId}/connections',
    repeatable: true,
    status: 201,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/connections`, {
          token: owner.token,
          body: {
            name: fresh('db'),
            host: 'db.example.com',
            database: 'app',
            user: 'reader',
            password: fresh('pw'),
          },
        });
    },
  },
  {
    route: 'PATCH /v1/tenants/{tenantId}/connections/{connectionId}',
    repeatable: true,
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const id = await connection(api, owner, tenantId);
      return () =>
        api.request('PATCH', `/v1/tenants/${tenantId}/connections/${id}`, {
          token: owner.token,
          body: { password: fresh('rotated') },
        });
    },
  },
  {
    route: 'DELETE /v1/tenants/{tenantId}/connections/{connectionId}',
    status: 204,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      const id = await connection(api, owner, tenantId);
      return () => api.request('DELETE', `/v1/tenants/${tenantId}/connections/${id}`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/connections/{connectionId}/reveal',
    status: 200,
    setup: async ({ api }) => {
      // A tenant of its own: a cold tenant key makes the reveal ask KMS for the data key.
      const { owner, tenantId } = await ownTenant(api, 'reveal');
      const id = await connection(api, owner, tenantId);
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/connections/${id}/reveal`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/connections/{connectionId}/query',
    status: 200,
    setup: async (world) => {
      const { owner, path } = await livePostgresConnection(world, 'query');
      return () =>
        world.api.request('POST', `${path}/query`, {
          token: owner.token,
          body: { operation: 'select', table: 'customers', columns: ['id', 'name'], limit: 5 },
        });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/connections/{connectionId}/test',
    status: 200,
    setup: async (world) => {
      const { owner, path } = await livePostgresConnection(world, 'connection-test');
      return () => world.api.request('POST', `${path}/test`, { token: owner.token });
    },
  },
  {
    route: 'POST /v1/tenants/{tenantId}/query',
    repeatable: true,
    status: 200,
    setup: async ({ api, tenant }) => {
      const { owner, tenantId } = await tenant();
      return () =>
        api.request('POST', `/v1/tenants/${tenantId}/query`, {
          token: owner.token,
          body: { operation: 'select', table: 'members', columns: ['userId', 'role'] },
        });
    },
  },
];

export { ownTenant, userWithPasskey };
