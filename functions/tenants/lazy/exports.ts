import { loadedOnUse } from '../../../shared/aws/loaded-on-use.js';
import { TenantExportService } from '../../../shared/services/tenant-export.js';
import { TenantStore } from '../../../shared/store/tenant-store.js';
import type { TenantsInit } from './init.js';

/** Exports: the tenant's items and audit log, as an archive in the export bucket. */
export function tenantExportServiceFor(init: TenantsInit): TenantExportService {
  const { runtime, audit } = init;
  const exportBucket = runtime.require('exportBucket');
  return new TenantExportService({
    tenants: new TenantStore(init.tenantClients, runtime.require('tenantDataTable')),
    audit,
    auditLog: audit,
    // Export archives (S3 and its presigner), loaded by the first export.
    archives: loadedOnUse(async () => {
      const [{ S3Client }, { TenantExportArchives }] = await Promise.all([
        import('@aws-sdk/client-s3'),
        import('../../../shared/store/tenant-export-archives.js'),
      ]);
      return new TenantExportArchives({ s3: runtime.client(S3Client), bucket: exportBucket });
    }),
  });
}
