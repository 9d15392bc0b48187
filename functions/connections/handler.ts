import { functionRuntime } from '../../shared/aws/runtime.js';
import { envelopeCipherFor, TenantCrypto } from '../../shared/crypto/envelope.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import { authorizerFor, tenantCaller } from '../../shared/http/auth.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import * as routes from '../../shared/schemas/connections.js';
import { ConnectionsService } from '../../shared/services/connections.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { ConnectionsStore } from '../../shared/store/connections-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';
import { TenantItemKeyDirectory } from '../../shared/store/tenant-key-directory.js';

const runtime = functionRuntime();
const tenantDataTable = runtime.require('tenantDataTable');
const hostPolicy = { allowPrivateNetworks: runtime.optional('allowPrivateNetworks') === 'true' };
const tenantClients = tenantDataClientsFor(runtime);
const crypto = new TenantCrypto({
  cipher: envelopeCipherFor(runtime),
  keys: new TenantItemKeyDirectory({ clients: tenantClients, tableName: tenantDataTable }),
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
    implement(routes.listConnections, async (req) => ({
      status: 200,
      body: await service.list(tenantCaller(req), req.query),
    })),
    implement(routes.createConnection, async (req) => ({
      status: 201,
      body: await service.create(tenantCaller(req), req.body),
    })),
    implement(routes.getConnection, async (req) => ({
      status: 200,
      body: await service.get(tenantCaller(req), req.params.connectionId),
    })),
    implement(routes.updateConnection, async (req) => ({
      status: 200,
      body: await service.update(tenantCaller(req), req.params.connectionId, req.body),
    })),
    implement(routes.deleteConnection, async (req) => {
      await service.delete(tenantCaller(req), req.params.connectionId);
      return { status: 204 };
    }),
    implement(routes.revealConnectionPassword, async (req) => ({
      status: 200,
      body: await service.reveal(tenantCaller(req), req.params.connectionId),
    })),
  ],
});
