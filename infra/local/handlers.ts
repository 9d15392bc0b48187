import type { Area } from '../../shared/http/route.js';
import type { ApiHandler } from './server.js';

/**
 * The deployed function of each API area, imported lazily so the environment is set (after provisioning)
 * before the handler modules read it at load time.
 */
export const AREA_HANDLERS: Record<Area, () => Promise<ApiHandler>> = {
  public: async () => (await import('../../functions/public/handler.js')).handler,
  auth: async () => (await import('../../functions/auth/handler.js')).handler,
  tenants: async () => (await import('../../functions/tenants/handler.js')).handler,
  storage: async () => (await import('../../functions/storage/handler.js')).handler,
  connections: async () => (await import('../../functions/connections/handler.js')).handler,
  query: async () => (await import('../../functions/query/handler.js')).handler,
  audit: async () => (await import('../../functions/audit/handler.js')).handler,
};
