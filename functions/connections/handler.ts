import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { createApiHandler } from '../../shared/http/api.js';
import { authorizerFor, implementForTenant } from '../../shared/http/auth.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import * as routes from '../../shared/schemas/connections.js';
import { ConnectionsService } from '../../shared/services/connections.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { ConnectionsStore } from '../../shared/store/connections-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';

const runtime = functionRuntime();
const tenantDataTable = runtime.require('tenantDataTable');
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
const tenantClients = tenantDataClientsFor(runtime);
// A connection's password is encrypted (create, update) or decrypted (reveal) under the tenant's key by the
// envelope cipher and the tenant key directory, loaded by the first request that does so
// (shared/aws/loaded-on-use.ts): listing and reading connections never need them.
const crypto = loadedOnUse(async () => {
  const [{ envelopeCipherFor, TenantCrypto }, { TenantItemKeyDirectory }] = await Promise.all([
    import('../../shared/crypto/envelope.js'),
    import('../../shared/store/tenant-key-directory.js'),
  ]);
  return new TenantCrypto({
    cipher: envelopeCipherFor(runtime),
    keys: new TenantItemKeyDirectory({ clients: tenantClients, tableName: tenantDataTable }),
  });
});
const audit = auditRecorderFor(runtime, { tenantClients });
const service = new ConnectionsService({
  store: new ConnectionsStore({ clients: tenantClients, tableName: tenantDataTable, crypto, hostPolicy }),
  audit,
  hostPolicy,
});

/** Data-source connections: `/v1/tenants/{tenantId}/connections*`. */
export const handler = createApiHandler({
  runtime,
  area: 'connections',
  allRoutes: routes.connectionsRoutes,
  authorizer: authorizerFor(runtime),
  onRefused: auditRefusalsTo(audit),
  routes: [
    implementForTenant(routes.listConnections, 200, (caller, req) => service.list(caller, req.query)),
    implementForTenant(routes.createConnection, 201, (caller, req) => service.create(caller, req.body)),
    implementForTenant(routes.getConnection, 200, (caller, req) =>
      service.get(caller, req.params.connectionId),
    ),
    implementForTenant(routes.updateConnection, 200, (caller, req) =>
      service.update(caller, req.params.connectionId, req.body),
    ),
    implementForTenant(routes.deleteConnection, 204, (caller, req) =>
      service.delete(caller, req.params.connectionId),
    ),
    implementForTenant(routes.revealConnectionPassword, 200, (caller, req) =>
      service.reveal(caller, req.params.connectionId),
    ),
  ],
});
