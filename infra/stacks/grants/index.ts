import type { Area } from '../../../shared/http/route.js';
import type { AreaGrants } from './area-resources.js';
import { auditGrants } from './audit.js';
import { authGrants } from './auth.js';
import { connectionsGrants } from './connections.js';
import { publicGrants } from './public.js';
import { queryGrants } from './query.js';
import { storageGrants } from './storage.js';
import { tenantsGrants } from './tenants.js';

/**
 * Each deployed area's IAM, one file per area. A function whose handler exists but whose area has no
 * entry here synthesises with no data permissions (it fails closed) and a warning, and test/infra fails
 * until the entry exists: a function never deploys with permissions nobody wrote down.
 */
export const AREA_GRANTS: Partial<Record<Area, AreaGrants>> = {
  public: publicGrants,
  auth: authGrants,
  tenants: tenantsGrants,
  storage: storageGrants,
  connections: connectionsGrants,
  query: queryGrants,
  audit: auditGrants,
};
