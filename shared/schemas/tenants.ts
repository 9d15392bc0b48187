import { PERMISSIONS, ROLES } from '../domain/permissions.js';
import { PLANS } from '../domain/plans.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { defineTenantListRoute, EmailAddress, TenantId, TenantParams, UserId } from './common.js';
import { exactlyOneFactor, RecoveryCode, StepUpToken, TotpCode } from './factors.js';
import { tenantSsoRoutes } from './tenant-sso.js';

const Role = z.onFirstUse(() => z.enum(ROLES));
const KeyId = z.onFirstUse(() =>
  z.string().check(z.regex(/^k_[0-9a-hjkmnp-tv-z]{26}$/, 'Not an API key id')),
);

/** A settings change: absent keys keep their value; a session limit set to null returns to the platform default. */
const Settings = z.onFirstUse(() =>
  z.strictObject({
    requireMfa: z.optional(z.boolean()),
    sessionIdleSeconds: z
      .optional(z.nullable(z.number().check(z.int(), z.minimum(300), z.maximum(14 * 86_400))))
      .check(z.describe('Idle limit of sessions in this tenant; null: the platform default (14 days)')),
    sessionAbsoluteSeconds: z
      .optional(z.nullable(z.number().check(z.int(), z.minimum(900), z.maximum(30 * 86_400))))
      .check(z.describe('Absolute limit of sessions in this tenant; null: the platform default (30 days)')),
  }),
);

export const Tenant = z.onFirstUse(() =>
  z
    .object({
      tenantId: TenantId(),
      name: z.string(),
      plan: z.enum(PLANS),
      createdAt: z.string(),
      settings: z.object({
        requireMfa: z.boolean(),
        sessionIdleSeconds: z.optional(z.number()),
        sessionAbsoluteSeconds: z.optional(z.number()),
      }),
    })
    .check(z.meta({ id: 'Tenant' })),
);

export const Member = z.onFirstUse(() =>
  z
    .object({ userId: UserId(), email: z.string(), name: z.string(), role: Role(), addedAt: z.string() })
    .check(z.meta({ id: 'Member' })),
);

export const ApiKey = z.onFirstUse(() =>
  z
    .object({
      keyId: KeyId(),
      name: z.string(),
      scopes: z.array(z.enum(PERMISSIONS)),
      createdBy: UserId(),
      createdAt: z.string(),
      expiresAt: z.string(),
      lastUsedAt: z.nullable(z.string()),
      createdWithMfa: z
        .boolean()
        .check(
          z.describe(
            'Minted by a session signed in with a second factor; only such keys work in a tenant requiring MFA',
          ),
        ),
    })
    .check(z.meta({ id: 'ApiKey' })),
);

const TenantName = z.onFirstUse(() => z.string().check(z.trim(), z.minLength(1), z.maxLength(100)));

/**
 * Tenants one user, and one network (IPv4 /24, IPv6 /48), may create per hour and per day. Accounts cost
 * nothing to make, so a per-user limit alone would let one network make as many tenants as it makes
 * accounts.
 */
export const TENANT_CREATIONS_PER_USER_PER_HOUR = 10;
export const TENANT_CREATIONS_PER_USER_PER_DAY = 30;
export const TENANT_CREATIONS_PER_NETWORK_PER_HOUR = 10;
export const TENANT_CREATIONS_PER_NETWORK_PER_DAY = 30;

export const createTenant = defineRoute({
  id: 'createTenant',
  method: 'POST',
  path: '/v1/tenants',
  area: 'tenants',
  summary: 'Create a tenant (you become its owner; its KMS key is created)',
  tags: ['tenants'],
  auth: { kind: 'session' },
  get body() {
    return z.strictObject({ name: TenantName() });
  },
  // Each tenant costs account-wide quota (a KMS key now, an IAM role once it uses managed storage).
  rateLimits: [
    {
      name: 'tenant-create-user-hour',
      per: 'user',
      limit: TENANT_CREATIONS_PER_USER_PER_HOUR,
      windowSeconds: 3600,
    },
    {
      name: 'tenant-create-user-day',
      per: 'user',
      limit: TENANT_CREATIONS_PER_USER_PER_DAY,
      windowSeconds: 86_400,
    },
    {
      name: 'tenant-create-network-hour',
      per: 'network',
      limit: TENANT_CREATIONS_PER_NETWORK_PER_HOUR,
      windowSeconds: 3600,
    },
    {
      name: 'tenant-create-network-day',
      per: 'network',
      limit: TENANT_CREATIONS_PER_NETWORK_PER_DAY,
      windowSeconds: 86_400,
    },
  ],
  response: {
    status: 201,
    description: 'The tenant',
    get schema() {
      return Tenant();
    },
  },
});

export const listMyTenants = defineRoute({
  id: 'listMyTenants',
  method: 'GET',
  path: '/v1/tenants',
  area: 'tenants',
  summary:
    'The tenants you are a member of, with your role in each (sessions only: an API key has one tenant)',
  tags: ['tenants'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'Your tenants, by name',
    get schema() {
      return z.object({
        items: z.array(
          // Tenant's fields spread rather than z.extend(Tenant, …), which would copy Tenant's meta check (its id) to the copy.
          z
            .object({
              ...Tenant().shape,
              role: Role(),
              joinedAt: z.string().check(z.describe('When you became a member')),
            })
            .check(z.meta({ id: 'MyTenant' })),
        ),
      });
    },
  },
});

export const getTenant = defineRoute({
  id: 'getTenant',
  method: 'GET',
  path: '/v1/tenants/{tenantId}',
  area: 'tenants',
  summary: 'Read a tenant',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:read' },
  get params() {
    return TenantParams();
  },
  response: {
    status: 200,
    description: 'The tenant',
    get schema() {
      return Tenant();
    },
  },
});

export const updateTenant = defineRoute({
  id: 'updateTenant',
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}',
  area: 'tenants',
  summary: 'Change name and settings (admin) or plan (owner)',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:settings' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z
      .strictObject({
        name: z.optional(TenantName()),
        plan: z.optional(z.enum(PLANS)),
        settings: z.optional(Settings()),
      })
      .check(z.refine((b) => Object.keys(b).length > 0, { message: 'Nothing to change', path: ['name'] }));
  },
  response: {
    status: 200,
    description: 'The tenant',
    get schema() {
      return Tenant();
    },
  },
});

export const deleteTenant = defineRoute({
  id: 'deleteTenant',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}',
  area: 'tenants',
  summary:
    'Delete the tenant (owner, fresh MFA: a TOTP code, a recovery code or a passkey step-up token): its credentials, keys and items go; its KMS key is scheduled for deletion',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:delete', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  get body() {
    return z
      .strictObject({
        mfaCode: z.optional(TotpCode()),
        recoveryCode: z.optional(RecoveryCode()),
        stepUpToken: z.optional(StepUpToken()),
      })
      .check(z.refine(...exactlyOneFactor('mfaCode')));
  },
  response: {
    status: 204,
    description:
      'Deleted. 409 deletion-in-progress (with objectsDeleted): the managed-storage objects did not all fit in this request; send it again (with a new code or step-up token) to continue',
  },
});

export const TenantDeletionStatus = z.onFirstUse(() =>
  z
    .object({
      status: z
        .enum(['active', 'deleting'])
        .check(
          z.describe(
            'deleting: the deletion began (the tenant is closed to every other route); send DELETE again to finish it',
          ),
        ),
      startedAt: z.optional(z.string()),
      startedBy: z.optional(z.string()),
      objectsDeleted: z
        .number()
        .check(
          z.int(),
          z.describe(
            'Managed-storage object versions, delete markers and incomplete multipart uploads removed so far (at least this many)',
          ),
        ),
    })
    .check(z.meta({ id: 'TenantDeletionStatus' })),
);

export const getTenantDeletion = defineRoute({
  id: 'getTenantDeletion',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/deletion',
  area: 'tenants',
  summary:
    'The tenant’s deletion status (owner): whether it began, and how many managed-storage object versions it deleted so far; answers while the tenant is closing, 404 once it is gone',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:delete', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  response: {
    status: 200,
    description: 'The deletion status',
    get schema() {
      return TenantDeletionStatus();
    },
  },
});

const ExportId = z.onFirstUse(() =>
  z.string().check(z.regex(/^x_[0-9a-hjkmnp-tv-z]{26}$/, 'Not an export id')),
);

export const TenantExport = z.onFirstUse(() =>
  z
    .object({
      exportId: ExportId(),
      createdAt: z.string(),
      sizeBytes: z.number().check(z.int()),
      url: z.string().check(z.url()),
      urlExpiresAt: z.string(),
    })
    .check(z.meta({ id: 'TenantExport' })),
);

export const createExport = defineRoute({
  id: 'createExport',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/exports',
  area: 'tenants',
  summary:
    'Export the tenant’s records (no secrets) to an archive encrypted with its key; returns a 15-minute download URL',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:export' },
  get params() {
    return TenantParams();
  },
  response: {
    status: 201,
    description: 'The archive and its download URL',
    get schema() {
      return TenantExport();
    },
  },
});

export const getExport = defineRoute({
  id: 'getExport',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/exports/{exportId}',
  area: 'tenants',
  summary: 'A fresh 15-minute download URL for an export archive (archives are kept 7 days)',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:export' },
  get params() {
    return z.strictObject({ tenantId: TenantId(), exportId: ExportId() });
  },
  response: {
    status: 200,
    description: 'The archive and its download URL',
    get schema() {
      return TenantExport();
    },
  },
});

export const listMembers = defineTenantListRoute({
  id: 'listMembers',
  path: '/v1/tenants/{tenantId}/members',
  area: 'tenants',
  summary: 'List members',
  tags: ['members'],
  permission: 'members:read',
  description: 'A page of members',
  item: Member,
});

const InvitationId = z.onFirstUse(() =>
  z.string().check(z.regex(/^n_[0-9a-hjkmnp-tv-z]{26}$/, 'Not an invitation id')),
);

export const Invitation = z.onFirstUse(() =>
  z
    .object({
      invitationId: InvitationId(),
      email: z.string(),
      role: Role(),
      invitedBy: z.object({ userId: UserId(), name: z.string() }),
      createdAt: z.string(),
      expiresAt: z.string(),
    })
    .check(z.meta({ id: 'Invitation' })),
);

export const inviteMember = defineRoute({
  id: 'inviteMember',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/members',
  area: 'tenants',
  summary:
    'Invite someone by e-mail with a role; they become a member when they accept (7 days). The answer is the same whether or not the address has an account or already is a member',
  tags: ['members'],
  auth: { kind: 'tenant', permission: 'members:manage' },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({ email: EmailAddress(), role: Role() });
  },
  response: {
    status: 201,
    description: 'The invitation',
    get schema() {
      return Invitation();
    },
  },
});

export const listInvitations = defineTenantListRoute({
  id: 'listInvitations',
  path: '/v1/tenants/{tenantId}/invitations',
  area: 'tenants',
  summary: 'List pending invitations',
  tags: ['members'],
  permission: 'members:manage',
  description: 'A page of unexpired invitations',
  item: Invitation,
});

export const revokeInvitation = defineRoute({
  id: 'revokeInvitation',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/invitations/{invitationId}',
  area: 'tenants',
  summary: 'Withdraw an invitation (one for admin or owner needs members:manage-admins-owners)',
  tags: ['members'],
  auth: { kind: 'tenant', permission: 'members:manage' },
  get params() {
    return z.strictObject({ tenantId: TenantId(), invitationId: InvitationId() });
  },
  response: { status: 204, description: 'Withdrawn' },
});

export const MyInvitation = z.onFirstUse(() =>
  z
    .object({
      invitationId: InvitationId(),
      tenant: z.object({ tenantId: TenantId(), name: z.string() }),
      role: Role(),
      invitedBy: z.object({ name: z.string(), email: z.string() }),
      createdAt: z.string(),
      expiresAt: z.string(),
    })
    .check(z.meta({ id: 'MyInvitation' })),
);

const MyInvitationParams = z.onFirstUse(() => z.strictObject({ invitationId: InvitationId() }));

export const listMyInvitations = defineRoute({
  id: 'listMyInvitations',
  method: 'GET',
  path: '/v1/me/invitations',
  area: 'tenants',
  summary: 'Invitations addressed to the e-mail address you registered with',
  tags: ['me'],
  auth: { kind: 'session' },
  response: {
    status: 200,
    description: 'Pending invitations',
    get schema() {
      return z.object({ items: z.array(MyInvitation()) });
    },
  },
});

export const acceptInvitation = defineRoute({
  id: 'acceptInvitation',
  method: 'POST',
  path: '/v1/me/invitations/{invitationId}/accept',
  area: 'tenants',
  summary: 'Accept an invitation: you become a member with its role',
  tags: ['me'],
  auth: { kind: 'session' },
  get params() {
    return MyInvitationParams();
  },
  response: {
    status: 201,
    description: 'The new membership',
    get schema() {
      return z.object({ tenant: z.object({ tenantId: TenantId(), name: z.string() }), member: Member() });
    },
  },
});

export const declineInvitation = defineRoute({
  id: 'declineInvitation',
  method: 'POST',
  path: '/v1/me/invitations/{invitationId}/decline',
  area: 'tenants',
  summary: 'Decline an invitation',
  tags: ['me'],
  auth: { kind: 'session' },
  get params() {
    return MyInvitationParams();
  },
  response: { status: 204, description: 'Declined' },
});

const MemberParams = z.onFirstUse(() => z.strictObject({ tenantId: TenantId(), userId: UserId() }));

export const changeMemberRole = defineRoute({
  id: 'changeMemberRole',
  method: 'PATCH',
  path: '/v1/tenants/{tenantId}/members/{userId}',
  area: 'tenants',
  summary: 'Change a member’s role',
  tags: ['members'],
  auth: { kind: 'tenant', permission: 'members:manage' },
  get params() {
    return MemberParams();
  },
  get body() {
    return z.strictObject({ role: Role() });
  },
  response: {
    status: 200,
    description: 'The member',
    get schema() {
      return Member();
    },
  },
});

export const removeMember = defineRoute({
  id: 'removeMember',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/members/{userId}',
  area: 'tenants',
  summary: 'Remove a member',
  tags: ['members'],
  auth: { kind: 'tenant', permission: 'members:manage' },
  get params() {
    return MemberParams();
  },
  response: { status: 204, description: 'Removed' },
});

export const listApiKeys = defineTenantListRoute({
  id: 'listApiKeys',
  path: '/v1/tenants/{tenantId}/api-keys',
  area: 'tenants',
  summary: 'List API keys (your own; all with api-keys:manage)',
  tags: ['api-keys'],
  permission: 'api-keys:create',
  description: 'A page of keys (never the secret)',
  item: ApiKey,
});

export const createApiKey = defineRoute({
  id: 'createApiKey',
  method: 'POST',
  path: '/v1/tenants/{tenantId}/api-keys',
  area: 'tenants',
  summary: 'Create an API key; the key is shown once',
  tags: ['api-keys'],
  auth: { kind: 'tenant', permission: 'api-keys:create', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({
      name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)),
      scopes: z.array(z.enum(PERMISSIONS)).check(z.minLength(1), z.maxLength(PERMISSIONS.length)),
      expiresInDays: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(365)), 90),
    });
  },
  response: {
    status: 201,
    description: 'The key (secret shown only here)',
    get schema() {
      // ApiKey's fields spread rather than z.extend(ApiKey, …), which would copy ApiKey's meta check (its id) to the copy.
      return z.object({ ...ApiKey().shape, key: z.string() });
    },
  },
});

export const revokeApiKey = defineRoute({
  id: 'revokeApiKey',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/api-keys/{keyId}',
  area: 'tenants',
  summary: 'Revoke an API key (your own; any with api-keys:manage)',
  tags: ['api-keys'],
  auth: { kind: 'tenant', permission: 'api-keys:create' },
  get params() {
    return z.strictObject({ tenantId: TenantId(), keyId: KeyId() });
  },
  response: { status: 204, description: 'Revoked' },
});

export const tenantRoutes = [
  ...tenantSsoRoutes,
  createTenant,
  listMyTenants,
  getTenant,
  updateTenant,
  deleteTenant,
  getTenantDeletion,
  createExport,
  getExport,
  listMembers,
  inviteMember,
  changeMemberRole,
  removeMember,
  listApiKeys,
  createApiKey,
  revokeApiKey,
  listInvitations,
  revokeInvitation,
  listMyInvitations,
  acceptInvitation,
  declineInvitation,
];
