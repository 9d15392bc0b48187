import type { RouteDef } from '../http/route.js';
import { accountRoutes } from './account.js';
import { auditRoutes } from './audit.js';
import { authRoutes } from './auth.js';
import { connectionsRoutes } from './connections.js';
import { oidcRoutes } from './oidc.js';
import { passkeyRoutes } from './passkeys.js';
import { publicRoutes } from './public.js';
import { queryRoutes } from './query.js';
import { storageRoutes } from './storage.js';
import { tenantRoutes } from './tenants.js';

/**
 * Every route of the API, the one list that feeds API Gateway (infra), the local server and the OpenAPI
 * document. Each area adds its routes here.
 */
export const ROUTES: readonly RouteDef[] = [
  ...publicRoutes,
  ...authRoutes,
  ...accountRoutes,
  ...passkeyRoutes,
  ...oidcRoutes,
  ...tenantRoutes,
  ...storageRoutes,
  ...connectionsRoutes,
  ...queryRoutes,
  ...auditRoutes,
];
