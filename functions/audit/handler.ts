import { loadedOnUse } from '../../shared/aws/loaded-on-use.js';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import { authorizerFor, implementForTenant, tenantCaller } from '../../shared/http/auth.js';
import { auditRefusalsTo } from '../../shared/http/refusals.js';
import * as routes from '../../shared/schemas/audit.js';
import { AuditService } from '../../shared/services/audit.js';
import { auditRecorderFor } from '../../shared/store/audit-store.js';
import { tenantDataClientsFor } from '../../shared/store/tenant-data-client.js';

const runtime = functionRuntime();
const tenantClients = tenantDataClientsFor(runtime);
// Verification checks head and checkpoint MACs (kms:VerifyMac only: this function cannot make one); the KMS
// client is loaded by the first verification (shared/aws/loaded-on-use.ts), not by every list.
const mac = loadedOnUse(async () => (await import('../../shared/crypto/chain-mac.js')).chainMacFor(runtime));
const store = auditRecorderFor(runtime, { tenantClients, mac });
const service = new AuditService({ store });

/** Audit log: list, CSV export and chain verification, `/v1/tenants/{tenantId}/audit-events*`. */
export const handler = createApiHandler({
  runtime,
  area: 'audit',
  allRoutes: routes.auditRoutes,
  authorizer: authorizerFor(runtime),
  onRefused: auditRefusalsTo(store),
  routes: [
    implementForTenant(routes.listAuditEvents, 200, (caller, req) => service.list(caller, req.query)),
    implement(routes.exportAuditEvents, async (req) => {
      const result = await service.exportCsv(tenantCaller(req), req.query);
      const headers: Record<string, string> = {
        'Content-Disposition': `attachment; filename="audit-${req.params.tenantId}-${result.since.slice(0, 10)}-${result.until.slice(0, 10)}.csv"`,
        'X-Audit-Rows': String(result.rows),
        'X-Audit-Pending': String(result.pending),
        'X-Audit-Oldest-Pending-Age-Seconds': String(result.oldestPendingAgeSeconds),
      };
      if (result.pendingCapped) headers['X-Audit-Pending-Capped'] = 'true';
      if (result.nextCursor) {
        const next = new URLSearchParams({
          since: result.since,
          until: result.until,
          cursor: result.nextCursor,
        });
        headers.Link = `<${req.event.path}?${next.toString()}>; rel="next"`;
        headers['X-Next-Cursor'] = result.nextCursor;
      }
      return { status: 200, rawBody: result.csv, contentType: 'text/csv; charset=utf-8', headers };
    }),
    implementForTenant(routes.verifyAuditChain, 200, (caller, req) => service.verify(caller, req.query)),
  ],
});
