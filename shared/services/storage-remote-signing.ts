import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { MIN_CREDENTIAL_SECONDS } from '../domain/storage-limits.js';
import { permissionForAccess } from '../domain/storage-policy.js';
import {
  type CheckedSignRequest,
  checkSignRequest,
  SIGNING_AUDIT,
  SignRequestError,
  type SignRequestInput,
} from '../domain/storage-signing.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { logger } from '../observability.js';
import { signS3Request } from '../store/storage-request-signer.js';
import type { StorageLocationRecord } from '../store/storage-store.js';
import { StorageCredentials } from './storage-credentials.js';
import type { StorageServiceDeps } from './storage-deps.js';

const isPowerOfTen = (n: number) => n >= 1 && 10 ** Math.round(Math.log10(n)) === n;

/** Signed operations that remove objects: their signatures are counted and reported on their own. */
const DESTRUCTIVE_OPERATIONS: ReadonlySet<string> = new Set(['DeleteObject', 'DeleteObjects']);

/** Remote signing (Iceberg's S3 signer): requests checked against the location, signed, audited in aggregate. */
export class StorageRemoteSigning {
  readonly #d: StorageServiceDeps;
  readonly #now: () => number;
  readonly #credentials: StorageCredentials;

  constructor(deps: StorageServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#credentials = new StorageCredentials(deps);
  }

  /**
   * Remote signing (Iceberg's S3 signer): checks the request against the location (host, bucket, every key
   * under the prefix, listings at or below `<prefix>/`, only object operations; 400 naming the field), needs
   * write access for writes (403), then signs it with SigV4 using credentials obtained as a vend obtains
   * them (the same scoped session policy, kept server-side). The caller's membership, role and key are
   * checked on every request, nothing about them is cached. Audited in aggregate (`SIGNING_AUDIT`).
   */
  async sign(caller: TenantCaller, locationId: string, body: SignRequestInput) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    // A managed location's writes are under the tenant's own key, which the signed headers may name (the
    // session behind the signature refuses writes that do not); the authorizer's read of the tenant item
    // told the directory, so this costs no read.
    const tenantKeyArn = location.kind === 'managed' ? await this.#d.tenantKeys.keyArnFor(scope) : undefined;
    let checked: CheckedSignRequest;
    try {
      checked = checkSignRequest(
        {
          ...this.#credentials.endpointHints(location, tenantKeyArn),
          bucket: location.bucket,
          prefix: location.prefix,
        },
        body,
      );
    } catch (error) {
      if (!(error instanceof SignRequestError)) throw error;
      // A request that would reach outside the location is what an attacker's first tries look like.
      await this.#auditRefusedSigning(caller, location, error);
      throw new ValidationError([{ path: `body.${error.field}`, message: error.message }], error.message);
    }
    const needed = permissionForAccess(checked.access);
    if (!caller.access.permissions.has(needed))
      throw new ForbiddenError(
        `${checked.operation} (${checked.method}) needs ${checked.access} access: the ${needed} permission.`,
      );
    // A store without STS: its own key pair signs (every request checked above first); else a scoped session.
    const credentials =
      location.endpoint && !location.stsEndpoint
        ? await this.#credentials.storeKeyPair(scope, location)
        : (await this.#credentials.issue(caller, location, checked.access, MIN_CREDENTIAL_SECONDS))
            .credentials;
    const headers = await signS3Request(checked, credentials, location.region, new Date(this.#now()));
    await this.#auditSigning(caller, location, checked);
    return { uri: body.uri, headers };
  }

  /**
   * One `storage-requests.signed` event per caller, location and kind (`read`, `write`, or `delete` for
   * DeleteObject and DeleteObjects, tallied on their own so the first destructive request of every window
   * is reported by name) for the first signature of each window and at every tenth power after it (1, 10,
   * 100, …), carrying the window's count so far: a busy client writes a handful of events, not one per
   * object. A window's first event also carries the previous window's final count. A failed event takes its
   * count back and fails the request (no signature goes out unaudited), so the next request reports it.
   */
  async #auditSigning(caller: TenantCaller, location: StorageLocationRecord, checked: CheckedSignRequest) {
    const kind = DESTRUCTIVE_OPERATIONS.has(checked.operation) ? 'delete' : checked.access;
    const counted = await this.#tallySigning(caller, location, kind);
    if (!isPowerOfTen(counted.count)) return;
    try {
      await this.#d.audit.record(caller.access.scope, {
        action: 'storage-requests.signed',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: location.locationId },
        details: {
          ...this.#signingWindow(caller, location, counted),
          access: checked.access,
          kind,
          operation: checked.operation,
        },
      });
    } catch (error) {
      await counted.untally().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Signing requests refused as malformed or reaching outside the location (400), aggregated the same way
   * as `storage-requests.refused` with the field and reason of the request at hand. Best effort: the request
   * is refused either way, so a failed event only takes its count back (the next refusal reports it).
   */
  async #auditRefusedSigning(caller: TenantCaller, location: StorageLocationRecord, error: SignRequestError) {
    let counted: { count: number; window: number; untally: () => Promise<void> } | undefined;
    try {
      counted = await this.#tallySigning(caller, location, 'refused');
      if (!isPowerOfTen(counted.count)) return;
      await this.#d.audit.record(caller.access.scope, {
        action: 'storage-requests.refused',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: location.locationId },
        details: {
          ...this.#signingWindow(caller, location, counted),
          field: `body.${error.field}`,
          reason: error.message.slice(0, 200),
        },
      });
    } catch (failure) {
      await counted?.untally().catch(() => undefined);
      logger.warn('the audit of a refused signing request failed', {
        locationId: location.locationId,
        error: failure instanceof Error ? failure.name : 'unknown',
      });
    }
  }

  async #tallySigning(
    caller: TenantCaller,
    location: StorageLocationRecord,
    kind: 'read' | 'write' | 'delete' | 'refused',
  ) {
    const tally = this.#d.signingTally;
    if (!tally) throw new Error('remote signing needs the signing tally');
    const { scope } = caller.access;
    const actor =
      caller.principal.kind === 'api-key' ? `key:${caller.principal.credentialId}` : `user:${scope.userId}`;
    // The read and write keys keep their earlier form, so counts in flight across a deployment carry on.
    const key = `${scope.tenantId}#${actor}#${location.locationId}#${kind}`;
    return tally.tally(SIGNING_AUDIT.name, key, SIGNING_AUDIT.windowSeconds);
  }

  #signingWindow(
    caller: TenantCaller,
    location: StorageLocationRecord,
    counted: { window: number; count: number; previousCount?: number },
  ) {
    return {
      userId: caller.access.scope.userId,
      locationId: location.locationId,
      root: location.root,
      windowStart: new Date(counted.window * SIGNING_AUDIT.windowSeconds * 1000).toISOString(),
      windowSeconds: SIGNING_AUDIT.windowSeconds,
      count: counted.count,
      ...(counted.previousCount !== undefined ? { previousWindowCount: counted.previousCount } : {}),
    };
  }
}
