import type { AuditEventView } from '../domain/audit-events.js';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { newId } from '../domain/ids.js';
import { type TenantItemKind, tenantItemKind } from '../domain/item-layout.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { AuditStore } from '../store/audit-store.js';
import type { ConnectionRecord } from '../store/connections-store.js';
import type { TenantExportArchives } from '../store/tenant-export-archives.js';
import {
  type ApiKeyRecord,
  type MemberRecord,
  publicApiKey,
  type TenantRecord,
  type TenantStore,
} from '../store/tenant-store.js';
import { publicConnection } from './connections.js';
import { publicMember, publicTenant } from './tenancy.js';

/** How long a download URL works: at most 15 minutes (DESIGN.md §4 "short-lived presigned URL"). */
export const EXPORT_URL_SECONDS = 900;
/** Version tag of the archive layout, so readers can tell future layouts apart. */
export const EXPORT_FORMAT = 'strongroom.tenant-export/v1';

/** Most audit events one archive holds (newest kept out past it; the CSV export pages through any number). */
export const EXPORT_MAX_AUDIT_EVENTS = 50_000;

export interface TenantExportDeps {
  tenants: Pick<TenantStore, 'getTenant' | 'allItems'>;
  audit: AuditRecorder;
  /** The tenant's audit log, read through the tenant-scoped session (events as the API shows them). */
  auditLog: Pick<AuditStore, 'readerFor'>;
  /** Where archives are stored and how their download URLs are signed. */
  archives: Pick<TenantExportArchives, 'put' | 'delete' | 'head' | 'downloadUrl'>;
  now?: () => number;
}

const pick = (item: Record<string, unknown>, names: readonly string[]) =>
  Object.fromEntries(names.filter((n) => item[n] !== undefined).map((n) => [n, item[n]]));

// Allow-lists, never deny-lists: an attribute added to a record later stays out of archives until named here.
const LOCATION_FIELDS = [
  'locationId',
  'kind',
  'root',
  'bucket',
  'prefix',
  'region',
  'roleArn',
  'createdAt',
  'createdBy',
];
const INSTANCE_FIELDS = [
  'instanceId',
  'name',
  'defaultStorageRoot',
  'storageLocationId',
  'createdAt',
  'createdBy',
];

/**
 * The archive of a tenant's records and audit events, built only from public views: no password or key hashes, no
 * ciphertexts (connection passwords appear as the mask), no storage ExternalId, no KMS key ARN. Items of
 * kinds not named here (uniqueness markers, counters) are left out.
 */
export function tenantArchive(
  meta: { exportId: string; createdAt: string; createdBy: string },
  items: readonly Record<string, unknown>[],
  audit: { events: AuditEventView[]; complete: boolean } = { events: [], complete: true },
) {
  const ofKind = (kind: TenantItemKind) => items.filter((i) => tenantItemKind(String(i.sk)) === kind);
  const [tenant] = ofKind('tenant');
  if (!tenant) throw new NotFoundError('No such tenant.');
  return {
    format: EXPORT_FORMAT,
    ...meta,
    tenant: publicTenant(tenant as unknown as TenantRecord),
    members: ofKind('member').map((i) => publicMember(i as unknown as MemberRecord)),
    apiKeys: ofKind('api-key').map((i) => publicApiKey(i as unknown as ApiKeyRecord)),
    storageLocations: ofKind('location').map((i) => pick(i, LOCATION_FIELDS)),
    instances: ofKind('instance').map((i) => pick(i, INSTANCE_FIELDS)),
    connections: ofKind('connection').map((i) => publicConnection(i as unknown as ConnectionRecord)),
    // Oldest first, as retained (expired events are not read); `false` when the cap cut the tail off.
    auditEvents: audit.events,
    auditEventsComplete: audit.complete,
  };
}

/**
 * Tenant exports (owner, `tenant:export`): a JSON archive in the export bucket under
 * `tenants/<tenantId>/exports/<exportId>.json`, SSE-KMS under the tenant's own key, downloaded through a
 * presigned GET URL valid 15 minutes.
 *
 * Why SSE-KMS with the tenant key rather than an Encryption SDK envelope: the archive is meant to be
 * downloaded with a plain HTTPS GET; S3 decrypts it for the URL's signer, whereas an envelope would need the
 * downloader to call KMS with the tenant key, which no user can. The key's policy lets S3 use it only for
 * this tenant's export prefix and only for the exporting role (shared/domain/key-policy.ts), and deleting
 * the tenant shreds the archives with the key. Every URL handed out is audited (`tenant.exported`) first.
 */
export class TenantExportService {
  readonly #d: TenantExportDeps & { now: () => number };

  constructor(deps: TenantExportDeps) {
    this.#d = { now: Date.now, ...deps };
  }

  async createExport(caller: TenantCaller) {
    this.#assertAllowed(caller);
    const { scope } = caller.access;
    const tenant = await this.#d.tenants.getTenant(scope);
    const exportId = newId('x');
    const createdAt = new Date(this.#d.now()).toISOString();
    const archive = tenantArchive(
      { exportId, createdAt, createdBy: caller.principal.userId },
      await this.#d.tenants.allItems(scope),
      await this.#auditEvents(caller),
    );
    const body = JSON.stringify(archive);
    // Signed before the upload: after it, only the audit event may fail (a signing failure there would
    // answer 503 with the archive stored).
    const url = await this.#downloadUrl(caller, exportId);
    await this.#d.archives.put(scope.tenantId, exportId, body, tenant.keyArn);
    const counts = Object.fromEntries(
      Object.entries(archive)
        .filter(([, value]) => Array.isArray(value))
        .map(([key, value]) => [key, (value as unknown[]).length]),
    );
    try {
      return await this.#handOut(
        caller,
        exportId,
        { createdAt, sizeBytes: Buffer.byteLength(body) },
        url,
        counts,
      );
    } catch (error) {
      await this.#withdraw(scope.tenantId, exportId);
      throw error;
    }
  }

  /**
   * Deletes an archive whose `tenant.exported` event could not be written, so no archive exists that the
   * audit log does not record (its URL was never answered; `GET …/exports/{id}` answers 404 afterwards).
   * Best effort: the request fails anyway (503, retried by the client with a new export), and an archive
   * left by a failing delete too is encrypted under the tenant key, was never handed out, and expires with
   * the bucket's lifecycle (7 days); it is logged.
   */
  async #withdraw(tenantId: string, exportId: string): Promise<void> {
    try {
      await this.#d.archives.delete(tenantId, exportId);
    } catch (error) {
      logger.warn('export archive left after its audit event failed; it expires with the bucket lifecycle', {
        tenantId,
        exportId,
        error,
      });
    }
  }

  /** A fresh download URL for an existing archive of the caller's tenant; 404 for any other id. */
  async getExport(caller: TenantCaller, exportId: string) {
    this.#assertAllowed(caller);
    const { scope } = caller.access;
    const stored = await this.#d.archives.head(scope.tenantId, exportId);
    if (!stored) throw new NotFoundError('No such export.');
    return this.#handOut(caller, exportId, stored, await this.#downloadUrl(caller, exportId));
  }

  /** A presigned download URL of the archive, valid EXPORT_URL_SECONDS from now. */
  async #downloadUrl(caller: TenantCaller, exportId: string) {
    const issuedAt = this.#d.now();
    const url = await this.#d.archives.downloadUrl(
      caller.access.scope.tenantId,
      exportId,
      EXPORT_URL_SECONDS,
    );
    return { url, expiresAt: new Date(issuedAt + EXPORT_URL_SECONDS * 1000).toISOString() };
  }

  /** Audits the handing out of `download`, then answers it. */
  async #handOut(
    caller: TenantCaller,
    exportId: string,
    object: { createdAt: string; sizeBytes: number },
    download: { url: string; expiresAt: string },
    counts?: Record<string, number>,
  ) {
    const { scope } = caller.access;
    await this.#d.audit.record(scope, {
      action: 'tenant.exported',
      actor: auditActorOf(caller),
      resource: { type: 'export', id: exportId },
      details: counts ? { created: true, counts, sizeBytes: object.sizeBytes } : { created: false },
    });
    return {
      exportId,
      createdAt: object.createdAt,
      sizeBytes: object.sizeBytes,
      url: download.url,
      urlExpiresAt: download.expiresAt,
    };
  }

  async #auditEvents(caller: TenantCaller): Promise<{ events: AuditEventView[]; complete: boolean }> {
    const reader = await this.#d.auditLog.readerFor(caller.access.scope);
    const events: AuditEventView[] = [];
    let afterSk: string | undefined;
    for (;;) {
      const page = await reader.page(
        {},
        { limit: Math.min(1000, EXPORT_MAX_AUDIT_EVENTS - events.length), afterSk, descending: false },
      );
      events.push(...page.items);
      if (!page.nextSk) return { events, complete: true };
      if (events.length >= EXPORT_MAX_AUDIT_EVENTS) return { events, complete: false };
      afterSk = page.nextSk;
    }
  }

  #assertAllowed(caller: TenantCaller) {
    if (!caller.access.permissions.has('tenant:export'))
      throw new ForbiddenError('Exports need the tenant:export permission.');
  }
}
