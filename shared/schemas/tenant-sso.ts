import { issuerProblem } from '../domain/oidc.js';
import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';
import { TenantParams, UserId } from './common.js';

/** An e-mail domain as an allowed-domains entry: lowercase labels, a dot, no wildcard. */
export const EmailDomain = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.trim(),
      z.toLowerCase(),
      z.maxLength(253),
      z.regex(
        /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/,
        'Not an e-mail domain',
      ),
    ),
);

const Issuer = z.onFirstUse(() =>
  z.string().check(
    z.maxLength(512),
    z.superRefine((value, ctx) => {
      const problem = issuerProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
);

export const TenantSso = z.onFirstUse(() =>
  z
    .object({
      issuer: z.string(),
      clientId: z.string(),
      clientSecretSet: z
        .literal(true)
        .check(z.describe('The client secret is stored (encrypted); it is never returned')),
      allowedDomains: z.array(z.string()),
      enforced: z.boolean(),
      updatedAt: z.string(),
      updatedBy: UserId(),
    })
    .check(z.meta({ id: 'TenantSso' })),
);

export const getTenantSso = defineRoute({
  id: 'getTenantSso',
  method: 'GET',
  path: '/v1/tenants/{tenantId}/sso',
  area: 'tenants',
  summary: 'The tenant’s own identity provider (owner; the client secret is never returned)',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:sso', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  response: {
    status: 200,
    description: 'The provider; 404 when none is configured',
    get schema() {
      return TenantSso();
    },
  },
});

export const putTenantSso = defineRoute({
  id: 'putTenantSso',
  method: 'PUT',
  path: '/v1/tenants/{tenantId}/sso',
  area: 'tenants',
  summary:
    'Configure the tenant’s own identity provider (owner): the issuer is checked by discovery; enforced: true only from a session signed in through it',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:sso', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  get body() {
    return z.strictObject({
      issuer: Issuer(),
      clientId: z.string().check(z.minLength(1), z.maxLength(256)),
      clientSecret: z
        .optional(z.string().check(z.minLength(1), z.maxLength(1024)))
        .check(
          z.describe(
            'Required at first and whenever issuer or clientId changes; absent keeps the stored one',
          ),
        ),
      allowedDomains: z.array(EmailDomain()).check(z.minLength(1), z.maxLength(20)),
      enforced: z.boolean(),
    });
  },
  response: {
    status: 200,
    description:
      'The provider. 400 naming the field (issuer not https, no valid discovery document, missing clientSecret); 503 `oidc-issuer-unreachable`; 409 `sso-lockout-guard` (enforced: true from a session not signed in through this provider)',
    get schema() {
      return TenantSso();
    },
  },
});

export const deleteTenantSso = defineRoute({
  id: 'deleteTenantSso',
  method: 'DELETE',
  path: '/v1/tenants/{tenantId}/sso',
  area: 'tenants',
  summary: 'Remove the tenant’s own identity provider and its enforcement (owner)',
  tags: ['tenants'],
  auth: { kind: 'tenant', permission: 'tenant:sso', sessionOnly: true },
  get params() {
    return TenantParams();
  },
  response: { status: 204, description: 'Removed; 404 when none is configured' },
});

export const tenantSsoRoutes = [getTenantSso, putTenantSso, deleteTenantSso];
