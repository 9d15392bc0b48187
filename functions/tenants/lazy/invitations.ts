import { rateLimiterFor } from '../../../shared/http/auth.js';
import { mailFor } from '../../../shared/mail/function-mail.js';
import { InvitationService } from '../../../shared/services/invitations.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';
import type { TenantsInit } from './init.js';

/** Invitations, and the mail they send. */
export function invitationServiceFor(init: TenantsInit): InvitationService {
  const { runtime, identity, lookups, audit } = init;
  return new InvitationService({
    tenants: new TenantStore(init.tenantClients, runtime.require('tenantDataTable')),
    identity,
    lookups,
    audit,
    rateLimiter: rateLimiterFor(identity),
    mail: mailFor(runtime),
  });
}
