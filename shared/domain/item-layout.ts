import { formatStorageRoot } from './storage-root-format.js';

/*
 * The DynamoDB item layout of the tenant-data and identity tables: every partition and sort key, declared
 * once (the audit tables' keys live with the chain they order, in audit-chain.ts). Stores build keys only
 * from here; nothing else spells a key prefix.
 */

/** A primary key: every table has a string partition key `pk` and sort key `sk` (shared/store/tables.ts). */
export interface ItemKey {
  pk: string;
  sk: string;
}

// ---------------------------------------------------------------------------------------------------------
// Tenant-data table: the partition is the tenant id, reached only through a TenantScope.

/** The tenant's own item (name, plan, key ARN, settings). */
export const TENANT_SK = 'TENANT';

export const MEMBER_SK_PREFIX = 'MEMBER#';
export const memberSk = (userId: string) => `${MEMBER_SK_PREFIX}${userId}`;

export const APIKEY_SK_PREFIX = 'APIKEY#';
export const apiKeySk = (keyId: string) => `${APIKEY_SK_PREFIX}${keyId}`;

export const INVITATION_SK_PREFIX = 'INVITE#';
export const invitationSk = (invitationId: string) => `${INVITATION_SK_PREFIX}${invitationId}`;

export const CONNECTION_SK_PREFIX = 'CONNECTION#';
export const connectionSk = (connectionId: string) => `${CONNECTION_SK_PREFIX}${connectionId}`;

export const LOCATION_SK_PREFIX = 'LOCATION#';
export const locationSk = (locationId: string) => `${LOCATION_SK_PREFIX}${locationId}`;

export const INSTANCE_SK_PREFIX = 'INSTANCE#';
export const instanceSk = (instanceId: string) => `${INSTANCE_SK_PREFIX}${instanceId}`;
/** Uniqueness marker of an instance name within its tenant. */
export const instanceNameSk = (name: string) => `INSTANCE-NAME#${name}`;

/**
 * The tenant's own OpenID provider (issuer, client id, the client secret's ciphertext, allowed domains,
 * enforcement); at most one per tenant.
 */
export const SSO_PROVIDER_SK = 'SSO-PROVIDER';

/** The tenant's storage ExternalId (the confused-deputy guard of external roles). */
export const STORAGE_EXTERNAL_ID_SK = 'STORAGE-EXTERNAL-ID';
/** The tenant's storage role, revocations and holdings summary. */
export const STORAGE_ACCESS_SK = 'STORAGE-ACCESS';
/** One user's holdings of storage credentials in the tenant. */
export const storageHolderSk = (userId: string) => `STORAGE-HOLDER#${userId}`;

/**
 * Items that let someone act on a tenant: memberships, API keys and pending invitations (accepting one
 * makes a membership). Tenant deletion cuts these first.
 */
export const ACCESS_ITEM_SK_PREFIXES: readonly string[] = [
  MEMBER_SK_PREFIX,
  APIKEY_SK_PREFIX,
  INVITATION_SK_PREFIX,
];

const KIND_PREFIXES = [
  ['member', MEMBER_SK_PREFIX],
  ['api-key', APIKEY_SK_PREFIX],
  ['invitation', INVITATION_SK_PREFIX],
  ['connection', CONNECTION_SK_PREFIX],
  ['location', LOCATION_SK_PREFIX],
  ['instance', INSTANCE_SK_PREFIX],
] as const;

/** What a tenant-data item is, by its sort key; `other` for markers and counters. */
export type TenantItemKind = 'tenant' | (typeof KIND_PREFIXES)[number][0] | 'other';

/** The kind of a tenant-data item, from its sort key. */
export function tenantItemKind(sk: string): TenantItemKind {
  if (sk === TENANT_SK) return 'tenant';
  return KIND_PREFIXES.find(([, prefix]) => sk.startsWith(prefix))?.[0] ?? 'other';
}

export const MEMBERSHIP_GSI_SK_PREFIX = 'TENANT#';
/** Index gsi1 of a membership item: a user's memberships, across tenants (partition: userGsiPk). */
export const membershipGsiKey = (userId: string, tenantId: string) => ({
  gsi1pk: userGsiPk(userId),
  gsi1sk: `${MEMBERSHIP_GSI_SK_PREFIX}${tenantId}`,
});

/** gsi1 partition of the invitations addressed to one (normalised) e-mail address. */
export const inviteeGsiPk = (email: string) => `INVITEE#${email}`;

// ---------------------------------------------------------------------------------------------------------
// Identity table: platform data that belongs to no tenant.

/**
 * The partition-key prefixes of the identity table, one per kind of item. IAM tells these items apart only
 * by them: the functions' write grants are `dynamodb:LeadingKeys` patterns built from this record
 * (infra/stacks/grants/common.ts), so an identity item whose partition starts otherwise has no grant.
 */
export const IDENTITY_PK_PREFIXES = {
  user: 'USER#',
  email: 'EMAIL#',
  session: 'SESSION#',
  mailToken: 'MAIL-TOKEN#',
  rateWindow: 'RATE#',
  storageNode: 'STORAGE-NODE#',
  passkeyChallenge: 'PASSKEY-CHALLENGE#',
  oidcFlow: 'OIDC-FLOW#',
  oidcIdentity: 'OIDC-IDENTITY#',
  stepUp: 'STEP-UP#',
} as const;

/** A user's profile item. */
export const userKey = (userId: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.user}${userId}`,
  sk: 'PROFILE',
});
/** The uniqueness marker of a (normalised) e-mail address. */
export const emailKey = (normalisedEmail: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.email}${normalisedEmail}`,
  sk: 'EMAIL',
});
/** One sign-in attempt on the user's account, newest last (ids sort by time): in the user's partition. */
export const SIGN_IN_SK_PREFIX = 'SIGN-IN#';
export const signInKey = (userId: string, attemptId: string): ItemKey => ({
  pk: userKey(userId).pk,
  sk: `${SIGN_IN_SK_PREFIX}${attemptId}`,
});
/** A device (domain/sign-in-history.ts `deviceFingerprint`) the user signed in from in the last 90 days. */
export const knownDeviceKey = (userId: string, fingerprint: string): ItemKey => ({
  pk: userKey(userId).pk,
  sk: `DEVICE#${fingerprint}`,
});
/**
 * A key in a user partition no account has (`~` never starts a user id): what a failed sign-in on an
 * unknown address checks is absent, so it costs the same write as one on a real account.
 */
export const noUserKey = (random: string): ItemKey => userKey(`~${random}`);
/** One of the user's passkeys (WebAuthn credentials), in the user's partition. */
export const PASSKEY_SK_PREFIX = 'PASSKEY#';
export const passkeyKey = (userId: string, passkeyId: string): ItemKey => ({
  pk: userKey(userId).pk,
  sk: `${PASSKEY_SK_PREFIX}${passkeyId}`,
});
/**
 * A WebAuthn challenge the API issued (to register a passkey, or to sign in with one): used once, for a
 * few minutes. The id is public (the client sends it back with the authenticator's answer).
 */
export const passkeyChallengeKey = (challengeId: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.passkeyChallenge}${challengeId}`,
  sk: 'CHALLENGE',
});
/**
 * A step-up token (a fresh passkey assertion, spent by one sensitive action): keyed by the hash of the
 * token, so the table never holds the token itself; single-use, expiring after a few minutes.
 */
export const stepUpKey = (tokenHash: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.stepUp}${tokenHash}`,
  sk: 'STEP-UP',
});
/** A session item. */
export const sessionKey = (sessionId: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.session}${sessionId}`,
  sk: 'SESSION',
});

/**
 * A one-time token sent by mail (address verification, password reset). The id is public (it is part of
 * the link); the item holds only the hash of the token's secret.
 */
export const mailTokenKey = (tokenId: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.mailToken}${tokenId}`,
  sk: 'TOKEN',
});

/**
 * A started OIDC sign-in: keyed by the hash of its `state` (domain/oidc.ts `stateHash`), single-use, expiring
 * after a few minutes.
 */
export const oidcFlowKey = (stateHash: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.oidcFlow}${stateHash}`,
  sk: 'FLOW',
});
/**
 * The account an identity at a provider signs in to: one per (provider, issuer, subject). The issuer and
 * subject are hashed together (store/oidc-flows.ts `identityHash`; a `sub` is unique per issuer only, and up to
 * 255 characters of anything), so a provider id re-pointed at another issuer finds none of the old links.
 */
export const oidcIdentityKey = (providerKey: string, identityHash: string): ItemKey => ({
  pk: `${IDENTITY_PK_PREFIXES.oidcIdentity}${providerKey}#${identityHash}`,
  sk: 'IDENTITY',
});

/** gsi1 partition of everything indexed by user: memberships (tenant data), sessions and linked identities (identity). */
export const userGsiPk = (userId: string) => `USER#${userId}`;
export const OIDC_IDENTITY_GSI_SK_PREFIX = 'OIDC-IDENTITY#';
/** Index gsi1 of a linked identity: a user's linked provider identities. */
export const oidcIdentityGsiKey = (userId: string, providerKey: string, identityHash: string) => ({
  gsi1pk: userGsiPk(userId),
  gsi1sk: `${OIDC_IDENTITY_GSI_SK_PREFIX}${providerKey}#${identityHash}`,
});
export const SESSION_GSI_SK_PREFIX = 'SESSION#';
/** Index gsi1 of a session item: a user's sessions. */
export const sessionGsiKey = (userId: string, sessionId: string) => ({
  gsi1pk: userGsiPk(userId),
  gsi1sk: `${SESSION_GSI_SK_PREFIX}${sessionId}`,
});

/** The partition of one named rate limit's windows for one key (an address, an account…). */
export const rateWindowPk = (name: string, key: string) => `${IDENTITY_PK_PREFIXES.rateWindow}${name}#${key}`;
/** One window of a sliding-window rate counter. */
export const rateWindowKey = (name: string, key: string, window: number): ItemKey => ({
  pk: rateWindowPk(name, key),
  sk: `W#${window}`,
});

/**
 * The global registry node for one path of one bucket (which tenant's location owns it). `#` cannot
 * occur in a bucket name or an accepted prefix.
 */
export function storageNodeKey(bucket: string, prefix: string, store?: string): ItemKey {
  // An S3-compatible store's buckets are not AWS's: its roots have nodes of their own, named by its endpoint
  // origin (which holds no `#`), so a bucket name at one store never blocks the same name at AWS or another.
  const root = formatStorageRoot({ bucket, prefix });
  return { pk: `${IDENTITY_PK_PREFIXES.storageNode}${store ? `${store}#${root}` : root}`, sk: 'NODE' };
}
