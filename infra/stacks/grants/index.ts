import type { Area } from '../../../shared/http/route.js';
import type { AreaGrants } from './area-resources.js';
import { auditGrants } from './audit.js';
import { authGrants } from './auth.js';
import { connectionsGrants } from './connections.js';
import { publicGrants } from './public.js';
import { queryGrants } from './query.js';
import { storageGrants } from './storage.js';
import { tenantsGrants } from './tenants.js';

/** Each area's IAM, one file per area: a new area does not compile until its grants are written down. */
export const AREA_GRANTS: Readonly<Record<Area, AreaGrants>> = {
  public: publicGrants,
  auth: authGrants,
  tenants: tenantsGrants,
  storage: storageGrants,
  connections: connectionsGrants,
  query: queryGrants,
  audit: auditGrants,
};
