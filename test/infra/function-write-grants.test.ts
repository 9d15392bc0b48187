import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignInAttempt } from '../../shared/domain/sign-in-history.js';
import { SIGNING_AUDIT } from '../../shared/domain/storage-signing.js';
import { mintTenantScope } from '../../shared/domain/tenant-scope.js';
import type { Area } from '../../shared/http/route.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { FailureBudgets } from '../../shared/services/failure-budgets.js';
import { INVITATION_LIMITS } from '../../shared/services/invitations.js';
import { AuthLookups } from '../../shared/store/auth-lookups.js';
import type { SessionRecord } from '../../shared/store/identity-records.js';
import { IdentityStore } from '../../shared/store/identity-store.js';
import { OidcStore } from '../../shared/store/oidc-flows.js';
import { type PasskeyRecord, PasskeyStore } from '../../shared/store/passkey-store.js';
import { RateWindows } from '../../shared/store/rate-windows.js';
import { StoragePathOwners } from '../../shared/store/storage-path-owners.js';
import { type StorageLocationRecord, StorageStore } from '../../shared/store/storage-store.js';
import type { ApiKeyRecord } from '../../shared/store/tenant-store.js';
import { simulate } from '../support/iam-simulator.js';
import { type WriteRequest, writeRequestsOf } from './dynamodb-requests.js';
import { areaIdentityPolicies, functionPrincipal, TABLE_ARNS } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Least privilege on the identity and tenant-data tables, per API function, judged by the IAM policy
 * simulator on each function role's synthesized policies (emulated DynamoDB does not enforce IAM):
 * - every write a compromised role could use to impersonate someone (a session with `mfa: true`, a user's
 *   password hash or MFA flag, a member's role, an API key, tenant settings, rate windows and failure
 *   budgets, the storage-root registry, the audit chain) is denied to every function whose routes do not
 *   make it;
 * - every write the functions do make is allowed: the requests are the ones the real store code sends
 *   (captured with aws-sdk-client-mock), so a changed key layout or a new attribute fails here.
 */

const AREAS = ['public', 'auth', 'tenants', 'storage', 'connections', 'query', 'audit'] as const;
type ApiArea = (typeof AREAS)[number];
const TABLES: Record<string, string> = {
  identity: TABLE_ARNS.identity,
  'tenant-data': TABLE_ARNS.tenantData,
  audit: TABLE_ARNS.audit,
};

const T1 = 't_01jx0000000000000000000001';
const U1 = 'u_01jx0000000000000000000001';
const S1 = 's_01jx0000000000000000000001';
const K1 = 'k_01jx0000000000000000000001';

let synth: Synthesised;
const policies = new Map<ApiArea, unknown[]>();

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  for (const area of AREAS) policies.set(area, areaIdentityPolicies(stack, area));
}, 180_000);
afterAll(() => synth?.cleanup());

async function decide(area: ApiArea, request: Omit<WriteRequest, 'label'>) {
  return simulate({
    principal: functionPrincipal(area),
    action: request.action,
    resource: request.table.startsWith('arn:') ? request.table : TABLES[request.table]!,
    context: request.context,
    identityPolicies: policies.get(area)!,
  });
}

// ---------------------------------------------------------------------------------------------------------
// What must never be possible, and for whom it is (the functions whose routes make that write).

interface Attack {
  name: string;
  action: string;
  table: keyof typeof TABLE_ARNS;
  leadingKeys?: string[];
  attributes?: string[];
  allowedFor: ApiArea[];
}

const session = (id = S1) => `SESSION#${id}`;
const user = (id = U1) => `USER#${id}`;
const ATTACKS: Attack[] = [
  {
    name: 'put a session with a chosen secret and mfa: true',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: [session()],
    attributes: ['pk', 'sk', 'sessionId', 'userId', 'secretHash', 'mfa', 'authMethod', 'lastSeenAt'],
    allowedFor: ['auth'],
  },
  {
    name: 'mark an existing session as signed in with MFA',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [session()],
    attributes: ['pk', 'sk', 'mfa', 'authMethod'],
    allowedFor: ['auth'],
  },
  {
    name: 'move a session to another user (touch plus userId)',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [session()],
    attributes: ['pk', 'sk', 'lastSeenAt', 'userId'],
    allowedFor: ['auth'],
  },
  {
    name: 'touch lastSeenAt on a user profile instead of a session',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'lastSeenAt'],
    allowedFor: ['auth'],
  },
  {
    name: "rewrite a user's password hash and turn MFA off",
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'passwordHash', 'mfaEnabled'],
    allowedFor: ['auth'],
  },
  {
    name: 'put a user profile',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'userId', 'email', 'passwordHash', 'mfaEnabled'],
    allowedFor: ['auth'],
  },
  {
    name: "set a user's TOTP step (replay protection)",
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'totpLastStep'],
    allowedFor: ['auth', 'tenants'],
  },
  {
    name: 'link a provider identity to a chosen account',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: ['OIDC-IDENTITY#platform:google#h'],
    attributes: [
      'pk',
      'sk',
      'gsi1pk',
      'gsi1sk',
      'providerKey',
      'issuer',
      'subject',
      'userId',
      'email',
      'linkedAt',
    ],
    allowedFor: ['auth'],
  },
  {
    name: "unlink a user's provider identity (or delete it at a password reset)",
    action: 'dynamodb:DeleteItem',
    table: 'identity',
    leadingKeys: ['OIDC-IDENTITY#platform:google#h'],
    allowedFor: ['auth'],
  },
  {
    name: 'plant a started OIDC flow (a chosen state)',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: ['OIDC-FLOW#h'],
    attributes: ['pk', 'sk', 'stateHash', 'flowTokenHash', 'providerKey', 'intent', 'userId'],
    allowedFor: ['auth'],
  },
  {
    name: 'claim an e-mail address',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: ['EMAIL#victim@example.test'],
    attributes: ['pk', 'sk', 'userId'],
    allowedFor: ['auth'],
  },
  {
    name: 'plant a passkey (a public key of the attacker) on a user',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'passkeyId', 'userId', 'credentialId', 'publicKey', 'counter'],
    allowedFor: ['auth'],
  },
  {
    name: "wind a passkey's signature counter back",
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: [user()],
    attributes: ['pk', 'sk', 'counter'],
    allowedFor: ['auth'],
  },
  {
    name: 'put a passkey challenge of its choosing',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: ['PASSKEY-CHALLENGE#AAAAAAAAAAAAAAAAAAAAAA'],
    attributes: ['pk', 'sk', 'challengeId', 'ceremony', 'challenge', 'expiresAt', 'ttl'],
    allowedFor: ['auth'],
  },
  {
    name: 'plant a step-up token of its choosing (fresh MFA without the passkey)',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: [`STEP-UP#${'a'.repeat(64)}`],
    attributes: ['pk', 'sk', 'userId', 'sessionId', 'passkeyId', 'createdAt', 'expiresAt', 'ttl'],
    allowedFor: ['auth'],
  },
  {
    name: 'spend (delete) a step-up token',
    action: 'dynamodb:DeleteItem',
    table: 'identity',
    leadingKeys: [`STEP-UP#${'a'.repeat(64)}`],
    allowedFor: ['auth', 'tenants'],
  },
  {
    name: 'delete sessions in a batch',
    action: 'dynamodb:BatchWriteItem',
    table: 'identity',
    leadingKeys: [session(), session('s_01jx0000000000000000000002')],
    allowedFor: ['auth'],
  },
  {
    name: 'delete user profiles in a batch',
    action: 'dynamodb:BatchWriteItem',
    table: 'identity',
    leadingKeys: [user()],
    allowedFor: [],
  },
  {
    name: 'delete a TOTP failure counter',
    action: 'dynamodb:DeleteItem',
    table: 'identity',
    leadingKeys: ['RATE#totp-failures-3600s#victim@example.test'],
    allowedFor: [],
  },
  {
    name: 'give back TOTP failure slots (ADD count -1)',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: ['RATE#totp-failures-3600s#victim@example.test'],
    attributes: ['pk', 'sk', 'count'],
    allowedFor: ['auth', 'tenants'],
  },
  {
    name: "give back an account's sign-in failure slots",
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: ['RATE#signin-failures#victim@example.test#192.0.2.0/24'],
    attributes: ['pk', 'sk', 'count'],
    allowedFor: ['auth', 'tenants'],
  },
  {
    name: 'reset the per-IP login window',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: ['RATE#login-ip#192.0.2.1'],
    attributes: ['pk', 'sk', 'count'],
    allowedFor: ['auth'],
  },
  {
    name: 'write other attributes on a rate window item',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: ['RATE#storage-revocations#t_01jx0000000000000000000001'],
    attributes: ['pk', 'sk', 'count', 'secretHash'],
    allowedFor: [],
  },
  {
    name: 'take over a storage-root registry node',
    action: 'dynamodb:UpdateItem',
    table: 'identity',
    leadingKeys: ['STORAGE-NODE#s3://lake/a'],
    attributes: ['pk', 'sk', 'owner', 'locationId'],
    allowedFor: ['storage', 'tenants'],
  },
  {
    name: 'put a storage-root registry node',
    action: 'dynamodb:PutItem',
    table: 'identity',
    leadingKeys: ['STORAGE-NODE#s3://lake/a'],
    attributes: ['pk', 'sk', 'owner', 'locationId'],
    allowedFor: [],
  },
  {
    name: 'scan the identity table',
    action: 'dynamodb:Scan',
    table: 'identity',
    allowedFor: [],
  },
  {
    name: "promote a tenant's member to owner",
    action: 'dynamodb:UpdateItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'role'],
    allowedFor: [],
  },
  {
    name: 'touch an API key and rewrite its scopes',
    action: 'dynamodb:UpdateItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'lastUsedAt', 'scopes'],
    allowedFor: [],
  },
  {
    name: 'put a member item',
    action: 'dynamodb:PutItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'tenantId', 'userId', 'role', 'keyGeneration', 'gsi1pk', 'gsi1sk'],
    allowedFor: [],
  },
  {
    name: 'put an API key with a chosen secret',
    action: 'dynamodb:PutItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'keyId', 'tenantId', 'secretHash', 'scopes', 'createdBy', 'createdWithMfa'],
    allowedFor: [],
  },
  {
    name: "turn a tenant's MFA requirement off",
    action: 'dynamodb:UpdateItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'settings'],
    allowedFor: [],
  },
  {
    // Residual: the root-release transactions delete a location item on the function role, and IAM cannot
    // tell its sort key from a member's; destructive, never an escalation (nothing can be written back).
    name: 'delete a tenant item (the storage-root release path)',
    action: 'dynamodb:DeleteItem',
    table: 'tenantData',
    leadingKeys: [T1],
    attributes: ['pk', 'sk'],
    allowedFor: ['storage', 'tenants'],
  },
  {
    name: 'delete a platform item of the tenant-data table',
    action: 'dynamodb:DeleteItem',
    table: 'tenantData',
    leadingKeys: ['INVITEE#victim@example.test'],
    attributes: ['pk', 'sk'],
    allowedFor: [],
  },
  {
    name: 'scan the tenant-data table',
    action: 'dynamodb:Scan',
    table: 'tenantData',
    allowedFor: [],
  },
  {
    name: 'update an audit event',
    action: 'dynamodb:UpdateItem',
    table: 'audit',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'action'],
    allowedFor: [],
  },
  {
    name: 'delete an audit event',
    action: 'dynamodb:DeleteItem',
    table: 'audit',
    leadingKeys: [T1],
    allowedFor: [],
  },
  {
    name: 'write an audit chain record',
    action: 'dynamodb:PutItem',
    table: 'auditChain',
    leadingKeys: [T1],
    attributes: ['pk', 'sk', 'hash'],
    allowedFor: [],
  },
];

describe('what a compromised API function role may write (IAM simulator on the synthesized policies)', () => {
  for (const area of AREAS) {
    it(`${area}: only the writes its routes make`, async () => {
      // Act: each attack, judged by the simulator on the function's role
      const decisions: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const attack of ATTACKS) {
        decisions[attack.name] = await decide(area, {
          action: attack.action,
          table: TABLE_ARNS[attack.table],
          context: {
            ...(attack.leadingKeys ? { 'dynamodb:LeadingKeys': attack.leadingKeys } : {}),
            ...(attack.attributes ? { 'dynamodb:Attributes': attack.attributes } : {}),
          },
        });
        expected[attack.name] = attack.allowedFor.includes(area) ? 'Allowed' : 'ImplicitlyDenied';
      }

      // Assess: allowed exactly where a route of the function makes that write
      expect(decisions).toEqual(expected);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// What the functions do write: the real store code's requests.

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-central-1' }));

/** The write requests `run` sends through the store code (reads answered empty). */
async function writesOf(
  label: string,
  run: () => Promise<unknown>,
  queryItems: Record<string, unknown>[] = [{ sessionId: 's_01jx0000000000000000000002', userId: U1 }],
): Promise<WriteRequest[]> {
  ddb.reset();
  ddb.onAnyCommand().resolves({});
  ddb.on(QueryCommand).resolves({ Items: queryItems });
  await run();
  return ddb.calls().flatMap((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: Record<string, unknown> };
    return writeRequestsOf(command.constructor.name, command.input, label);
  });
}

const identity = () => new IdentityStore(doc, 'identity');
const oldSession: SessionRecord = {
  sessionId: S1,
  userId: U1,
  secretHash: 'a'.repeat(64),
  createdAt: 0,
  lastSeenAt: 0,
  idleTimeoutSeconds: 1_209_600,
  absoluteExpiresAt: Date.now() + 86_400_000,
  ip: '192.0.2.1',
  userAgent: 'test',
};
const apiKey: ApiKeyRecord = {
  keyId: K1,
  tenantId: T1,
  name: 'ci',
  scopes: ['tenant:read'],
  createdBy: U1,
  createdAt: '2026-11-30T00:00:00Z',
  expiresAt: Date.now() + 86_400_000,
  secretHash: 'b'.repeat(64),
};
const signIn: SignInAttempt = {
  userId: U1,
  at: Date.now(),
  ip: '192.0.2.1',
  userAgent: 'test',
  method: 'password',
  result: 'failed',
};
const platformAudit = { Put: { TableName: 'audit', Item: { pk: 'platform', sk: 'E#1', action: 'x' } } };
const tenantAudit = { Put: { TableName: 'audit', Item: { pk: T1, sk: 'E#1', action: 'x' } } };

/** Takes and gives back a slot of each named window (the limiter's and the failure budgets' two writes). */
async function rateWindowWrites(names: string[]): Promise<WriteRequest[]> {
  const all: WriteRequest[] = [];
  for (const name of names)
    all.push(
      ...(await writesOf(`rate window ${name}`, async () => {
        const reservation = await new RateWindows(doc, 'identity').reserve(name, 'key#192.0.2.0/24', 5, 60);
        if (!reservation.granted) throw new Error('refused');
        await reservation.slot.release();
      })),
    );
  return all;
}

const routeLimits = (area: Area) =>
  ROUTES.filter((r) => r.area === area).flatMap((r) => (r.rateLimits ?? []).map((l) => l.name));

async function freshMfaBudgetWrites(): Promise<WriteRequest[]> {
  return writesOf('fresh-MFA failure budgets', async () => {
    const budgets = new FailureBudgets(new RateWindows(doc, 'identity'));
    await (await budgets.reserveForNetwork('victim@example.test', '192.0.2.1')).giveBack();
    await (await budgets.reserveForTotp('victim@example.test')).giveBack();
  });
}

const externalLocation: StorageLocationRecord = {
  locationId: 'l_01jx0000000000000000000001',
  kind: 'external',
  root: 's3://lake/a/b',
  bucket: 'lake',
  prefix: 'a/b',
  region: 'eu-central-1',
  roleArn: 'arn:aws:iam::210987654321:role/r',
  createdAt: '2026-11-30T00:00:00Z',
  createdBy: U1,
};
const storageStore = () =>
  new StorageStore({
    tenantClients: { forScope: async () => doc },
    platformClient: doc,
    tenantDataTable: 'tenant-data',
    identityTable: 'identity',
  });
const scope = () => mintTenantScope({ tenantId: T1, userId: U1 });

async function storageRegistryWrites(register: boolean): Promise<WriteRequest[]> {
  const root = { bucket: 'lake', prefix: 'a/b' };
  const writes: WriteRequest[] = [];
  if (register) {
    for (const isNew of [true, false])
      writes.push(
        ...(await writesOf(`register an external root (new ExternalId: ${isNew})`, () =>
          storageStore().createExternalLocation(
            scope(),
            externalLocation,
            root,
            { value: 'x', isNew, createdAt: '2026-11-30T00:00:00Z' },
            tenantAudit,
          ),
        )),
      );
  }
  for (const evenIfInUse of [false, true])
    writes.push(
      ...(await writesOf(`release an external root (even if in use: ${evenIfInUse})`, () =>
        storageStore().deleteLocation(scope(), externalLocation, root, tenantAudit, { evenIfInUse }),
      )),
    );
  return writes;
}

const authorizerWrites = async () => [
  ...(await writesOf('authorizer: session lastSeenAt', () =>
    identity().touchSession(oldSession, Date.now()),
  )),
  ...(await writesOf('authorizer: API key lastUsedAt', () =>
    new AuthLookups(doc, { identity: 'identity', tenantData: 'tenant-data' }).touchApiKey(apiKey, Date.now()),
  )),
];

const passkey: PasskeyRecord = {
  passkeyId: 'p_01jx0000000000000000000001',
  userId: U1,
  credentialId: 'Y3JlZGVudGlhbA',
  publicKey: 'cHVibGljLWtleQ',
  counter: 0,
  name: 'Laptop',
  createdAt: '2026-12-01T00:00:00Z',
  deviceType: 'singleDevice',
  backedUp: false,
  aaguid: '00000000-0000-0000-0000-000000000000',
};

/** Passkeys: challenges issued and taken, a passkey added, renamed, used at sign-in and removed. */
async function passkeyWrites(store: IdentityStore): Promise<WriteRequest[]> {
  const passkeys = new PasskeyStore(doc, 'identity', store);
  return [
    ...(await writesOf('passkeys: issue a challenge', () =>
      passkeys.putChallenge({
        challengeId: 'AAAAAAAAAAAAAAAAAAAAAA',
        ceremony: 'register',
        challenge: 'Y2hhbGxlbmdl',
        userId: U1,
        sessionId: S1,
        expiresAt: Date.now() + 300_000,
      }),
    )),
    ...(await writesOf('passkeys: take a challenge', () => passkeys.takeChallenge('AAAAAAAAAAAAAAAAAAAAAA'))),
    ...(await writesOf('passkeys: add', () => passkeys.add(passkey, 0, S1, () => [platformAudit]))),
    ...(await writesOf('passkeys: rename', () =>
      passkeys.rename(U1, passkey.passkeyId, 'Phone', platformAudit),
    )),
    ...(await writesOf('passkeys: remove', () =>
      passkeys.remove(U1, passkey.passkeyId, 0, S1, () => [platformAudit]),
    )),
    ...(await writesOf('passkeys: sign in', () =>
      store.createSession(
        { ...oldSession, authMethod: 'passkey', mfa: true },
        { credentialEpoch: 0, mfaEnabled: false },
        passkeys.useUpdate(passkey, { counter: 1, at: '2026-12-01T00:00:00Z', backedUp: false }),
        platformAudit,
        store.signIns.attemptPut({ ...signIn, method: 'passkey', result: 'succeeded', sessionId: S1 }),
      ),
    )),
  ];
}

/** A started OIDC flow stored and spent, an account made with its identity, and an identity linked. */
async function oidcWrites(): Promise<WriteRequest[]> {
  const oidc = new OidcStore(doc, 'identity');
  const identityRecord = {
    providerKey: 'platform:google',
    issuer: 'https://accounts.google.com',
    subject: 'sub',
    userId: U1,
    email: 'a@example.test',
    linkedAt: '2026-12-01T00:00:00Z',
  };
  return [
    ...(await writesOf('OIDC: start a flow', () =>
      oidc.putFlow({
        stateHash: 'h',
        flowTokenHash: 'f',
        providerKey: 'platform:google',
        intent: 'link',
        userId: U1,
        redirectUri: 'https://example.test/console/',
        createdAt: 1,
        expiresAt: 2,
      }),
    )),
    ...(await writesOf('OIDC: spend a flow', () => oidc.consumeFlow('h', 'f', 1))),
    // The account, its link and device, and its first session with its audit event and history: one transaction.
    ...(await writesOf('OIDC: sign up with an identity', () =>
      identity().createSession(
        { ...oldSession, authMethod: 'sso', ssoProvider: 'platform:google' },
        {
          createdWith: [
            ...identity().newUserPuts(
              {
                userId: U1,
                email: 'a@example.test',
                name: 'A',
                passwordHash: 'h',
                mfaEnabled: false,
                createdAt: '2026-11-30T00:00:00Z',
                emailVerifiedAt: '2026-11-30T00:00:00Z',
              },
              'a@example.test',
            ),
            oidc.identityPut(identityRecord),
            identity().signIns.devicePut(U1, 'fingerprint'),
          ],
        },
        platformAudit,
        identity().signIns.attemptPut({ ...signIn, method: 'sso', result: 'succeeded', sessionId: S1 }),
      ),
    )),
    ...(await writesOf('OIDC: link an identity', () =>
      oidc.linkIdentity(identityRecord, { sessionId: S1, credentialEpoch: 0 }, platformAudit),
    )),
    ...(await writesOf('OIDC: unlink an identity', () => oidc.unlinkIdentity(identityRecord, platformAudit))),
    ...(await writesOf('OIDC: link an identity confirmed by e-mail', () =>
      oidc.linkIdentityByMail(
        identityRecord,
        identity().mailTokenSpend({
          tokenId: 'm_01jx0000000000000000000001',
          purpose: 'sso-link',
          userId: U1,
          email: 'a@example.test',
          secretHash: 'c'.repeat(64),
          createdAt: '2026-12-01T00:00:00Z',
          expiresAt: Date.now() + 60_000,
        }),
        { email: 'a@example.test', credentialEpoch: 0 },
        platformAudit,
      ),
    )),
    // A reset on an unverified account deletes its passkeys and linked identities with the new password.
    ...(await writesOf(
      'password reset on an unverified account',
      () =>
        identity().resetPassword(
          {
            tokenId: 't',
            userId: U1,
            email: 'a@example.test',
            purpose: 'password-reset',
            secretHash: 'h',
            createdAt: '2026-12-01T00:00:00Z',
            expiresAt: 2,
          },
          {
            passwordHash: 'h',
            at: '2026-12-01T00:00:00Z',
            clearMfa: true,
            expectedMfa: true,
            removeSignInMethods: true,
          },
          platformAudit,
        ),
      [
        { pk: `USER#${U1}`, sk: `PASSKEY#${passkey.passkeyId}`, sessionId: S1, userId: U1 },
        { pk: 'OIDC-IDENTITY#platform:google#h', sk: 'IDENTITY', sessionId: S1, userId: U1 },
      ],
    )),
  ];
}

const NEEDED: Record<ApiArea, () => Promise<WriteRequest[]>> = {
  public: async () => [],
  connections: authorizerWrites,
  query: authorizerWrites,
  audit: authorizerWrites,
  storage: async () => [
    ...(await authorizerWrites()),
    ...(await rateWindowWrites(routeLimits('storage'))),
    // Remote signing's aggregated audit: a counted signature, taken back when its event failed.
    ...(await writesOf('remote-signing audit tally', async () => {
      const counted = await new RateWindows(doc, 'identity').tally(
        SIGNING_AUDIT.name,
        `${T1}#user:${U1}#l_1#read`,
        300,
      );
      await counted.untally();
    })),
    ...(await storageRegistryWrites(true)),
  ],
  tenants: async () => [
    ...(await authorizerWrites()),
    ...(await rateWindowWrites([
      ...routeLimits('tenants'),
      INVITATION_LIMITS.perTenant.name,
      INVITATION_LIMITS.perInviter.name,
    ])),
    ...(await freshMfaBudgetWrites()),
    ...(await writesOf('fresh MFA: consume a TOTP step', () => identity().consumeTotpStep(U1, 1))),
    ...(await writesOf('fresh MFA: spend a step-up token', () =>
      identity().spendStepUp('a'.repeat(64), { userId: U1, sessionId: S1, now: 1 }),
    )),
    ...(await writesOf('fresh MFA: consume a recovery code', () =>
      identity().consumeRecoveryCode(U1, 'c'.repeat(64)),
    )),
    // Tenant deletion releases external roots (the location item through StorageRootRelease).
    ...(await storageRegistryWrites(false)),
  ],
  auth: async () => {
    const store = identity();
    return [
      ...(await authorizerWrites()),
      ...(await rateWindowWrites(routeLimits('auth'))),
      ...(await freshMfaBudgetWrites()),
      ...(await writesOf('count a wrong password', () =>
        new FailureBudgets(new RateWindows(doc, 'identity')).passwordFailed('victim@example.test'),
      )),
      ...(await writesOf('register', () =>
        store.createUser(
          {
            userId: U1,
            email: 'a@example.test',
            name: 'A',
            passwordHash: 'h',
            mfaEnabled: false,
            createdAt: '2026-11-30T00:00:00Z',
          } as never,
          'a@example.test',
          [store.signIns.devicePut(U1, 'fingerprint')],
        ),
      )),
      ...(await writesOf('sign in: session', () =>
        store.createSession(
          oldSession,
          { credentialEpoch: 0, mfaEnabled: false },
          platformAudit,
          store.signIns.attemptPut({ ...signIn, result: 'succeeded', sessionId: S1 }),
        ),
      )),
      ...(await writesOf('sign in: failed on an account', () =>
        store.signIns.recordFailure(platformAudit, { ...signIn, reason: 'bad-credentials' }),
      )),
      ...(await writesOf('sign in: failed on an unknown address', () =>
        store.signIns.recordFailure(platformAudit, undefined),
      )),
      ...(await writesOf('sign in: second factor asked for', () =>
        store.signIns.record({ ...signIn, result: 'second-factor-required' }),
      )),
      ...(await writesOf('sign in: remember the device', () =>
        store.signIns.rememberDevice(U1, 'fingerprint'),
      )),
      ...(await writesOf('sign in: rehash', () => store.setPasswordHash(U1, 'h2', 0))),
      ...(await writesOf('change password', () => store.changePassword(U1, 'h3', 0, S1, platformAudit))),
      ...(await writesOf('revoke a session', () => store.deleteSession(U1, S1, platformAudit))),
      ...(await writesOf('delete the items of ended sessions', () =>
        store.clearSessions(U1, [{ sessionId: 's_01jx0000000000000000000002' }]),
      )),
      ...(await writesOf('enrol TOTP', () => store.setPendingTotp(U1, 'ciphertext'))),
      ...(await writesOf('confirm TOTP', () =>
        store.enableTotp(U1, 'ciphertext', 1, ['c'.repeat(64)], 0, S1, () => [platformAudit]),
      )),
      ...(await writesOf('remove TOTP', () => store.disableTotp(U1, 0, S1, () => [platformAudit]))),
      ...(await writesOf('sign in: TOTP step', () => store.consumeTotpStep(U1, 1))),
      ...(await writesOf('sign in: recovery code', () => store.consumeRecoveryCode(U1, 'c'.repeat(64)))),
      ...(await passkeyWrites(store)),
      ...(await writesOf('step up: the passkey use, the token and its event', () =>
        new PasskeyStore(doc, 'identity', store).recordStepUp(
          new PasskeyStore(doc, 'identity', store).useUpdate(passkey, {
            counter: 2,
            at: '2026-12-01T00:00:00Z',
            backedUp: false,
          }),
          store.stepUpPut('a'.repeat(64), {
            userId: U1,
            sessionId: S1,
            passkeyId: passkey.passkeyId,
            createdAt: '2026-12-01T00:00:00Z',
            expiresAt: Date.now() + 300_000,
          }),
          platformAudit,
        ),
      )),
      ...(await writesOf('fresh MFA: spend a step-up token', () =>
        store.spendStepUp('a'.repeat(64), { userId: U1, sessionId: S1, now: 1 }),
      )),
      ...(await oidcWrites()),
    ];
  },
};

describe('the writes each API function makes are allowed (requests captured from the real store code)', () => {
  for (const area of AREAS) {
    it(`${area}: every identity, tenant-data and platform-audit write it sends`, async () => {
      // Prepare: every write the function's routes send
      const writes = await NEEDED[area]();
      if (area !== 'public') expect(writes.length).toBeGreaterThan(0);

      // Act: each write, judged by the simulator on the function's role
      const refused: string[] = [];
      for (const write of writes) {
        const decision = await decide(area, write);
        if (decision !== 'Allowed')
          refused.push(`${write.label}: ${write.action} ${JSON.stringify(write.context)}`);
      }

      // Assess: none refused
      expect(refused).toEqual([]);
    });
  }
});

describe('the platform reads a function role makes outside its authorizer lookups', () => {
  it('storage: the LaminDB route reads the global root registry (every node on a path, one BatchGetItem)', async () => {
    // Prepare: the request the real registry reader sends.
    ddb.reset();
    ddb.onAnyCommand().resolves({ Responses: { identity: [] } });
    await new StoragePathOwners(doc, 'identity').ownerOf({ bucket: 'lake', prefix: 'a/b/c' });
    const [call] = ddb.calls();
    const input = (
      call!.args[0] as unknown as { input: { RequestItems: Record<string, { Keys: { pk: string }[] }> } }
    ).input;
    const partitions = input.RequestItems.identity!.Keys.map((k) => k.pk);
    expect(partitions).toHaveLength(4);
    // Act
    const decisions = await Promise.all(
      (['storage', 'query', 'public'] as const).map((area) =>
        decide(area, {
          action: 'dynamodb:BatchGetItem',
          table: TABLE_ARNS.identity,
          context: { 'dynamodb:LeadingKeys': partitions },
        }),
      ),
    );
    // Assess: the storage function may; the public one (no authorizer) may not.
    expect(decisions).toEqual(['Allowed', 'Allowed', 'ImplicitlyDenied']);
  });
});
