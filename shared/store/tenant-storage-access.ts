import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { loadedOnUse } from '../aws/loaded-on-use.js';
import type { FunctionRuntime } from '../aws/runtime.js';
import { STORAGE_ACCESS_SK, storageHolderSk } from '../domain/item-layout.js';
import { MAX_CREDENTIAL_SECONDS } from '../domain/storage-limits.js';
import {
  addRevocation,
  type CredentialKind,
  externalExpiryBound,
  externalNotRevocable,
  managedDenied,
  noneLive,
  pruneRevocations,
  REVOCATION_RETENTION_SECONDS,
  type RevocationEntry,
  type RevocationOutcome,
  revocationCutoff,
  revocationOf,
} from '../domain/storage-revocation.js';
import { type TenantScope, tenantKey } from '../domain/tenant-scope.js';
import { TENANT_STORAGE_GRANT_VERSION, tenantStorageLayout } from '../domain/tenant-storage-role.js';
import { HttpProblemError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import { logger } from '../observability.js';
import { isConditionFailure } from './conditions.js';
import type { TenantDataClients } from './tenant-data-client.js';
import type { TenantStorageRoles } from './tenant-storage-roles.js';

/** The tenant's storage role, once created (by the vending function, on first need). */
export interface TenantStorageRoleRecord {
  arn: string;
  /** Epoch ms: IAM may take a few seconds to let a new role be assumed. */
  createdAt: number;
  /** The version of the inline grant the role carries (TENANT_STORAGE_GRANT_VERSION); absent: 1. */
  grantVersion?: number;
}

/** The per-tenant storage item: revocations (the source of the role's deny), the role, and closure. */
export interface TenantStorageState {
  version: number;
  /** Pruned: only entries that can still deny a live credential. */
  entries: RevocationEntry[];
  role?: TenantStorageRoleRecord;
  /** Set when the tenant is being deleted: no role is made and nothing is vended from then on. */
  closedAt?: string;
}

/** Until when (epoch ms) credentials of each kind vended to a user in a tenant may be valid. */
export interface Holdings {
  managedUntil?: number;
  externalUntil?: number;
}

/** What a revocation of a user did, per kind of location (the API response and the audit event). */
export interface UserRevocation {
  userId: string;
  /** The cutoff; absent when the user held nothing that could still be valid (nothing was written). */
  revokedBefore?: string;
  credentials: RevocationOutcome[];
}

/** The revocation route's answer for a user holding no credential of the tenant that could still be valid. */
export class NoLiveStorageCredentialsError extends HttpProblemError {
  constructor() {
    super(404, 'no-storage-credentials', 'Not Found', {
      detail:
        'This user holds no storage credential of this tenant that could still be valid (none was vended to them, or all have expired): there is nothing to revoke.',
      errors: [{ path: 'body.userId', message: 'No live storage credentials of this tenant' }],
    });
    this.name = 'NoLiveStorageCredentialsError';
  }
}

/** A role whose grant is older than this deployment's, and the rewrite failed: nothing was issued. */
export class TenantStorageGrantUnavailableError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super(
      2,
      "This tenant's storage role could not be brought up to date; no credentials were issued. Try again.",
      cause,
    );
    this.name = 'TenantStorageGrantUnavailableError';
  }
}

/** A revocation that could not be written to IAM: nothing changed, try again. */
export class RevocationUnavailableError extends ServiceUnavailableError {
  constructor(cause: unknown) {
    super(2, 'The revocation could not be written; nothing was changed. Try again.', cause);
    this.name = 'RevocationUnavailableError';
  }
}

/** Clock skew allowed between STS's expiry and ours when deciding a credential can no longer be valid. */
const CLOCK_SKEW_MS = 60_000;
const WRITE_ATTEMPTS = 10;

export interface TenantStorageAccessProps {
  tenantClients: Pick<TenantDataClients, 'forScope'>;
  tenantDataTable: string;
  roles: Pick<TenantStorageRoles, 'create' | 'putGrant' | 'putRevocations' | 'remove'>;
  /** The grant version this deployment writes (default TENANT_STORAGE_GRANT_VERSION). */
  grantVersion?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A tenant's storage access state, in the tenant's own partition and reached only through tenant-scoped
 * credentials: its revocations (whose deny lives on the tenant's own storage role), its role, who was vended
 * what, and its closure on deletion.
 *
 * Revocations are written optimistically (a version number): the item first, then the role's deny; if IAM
 * fails, the item is put back, so a failed revocation changes nothing. After writing the deny a writer
 * re-reads the version and re-puts the newest list if another revocation overtook it, so the last IAM write
 * always carries every entry.
 */
export class TenantStorageAccess {
  readonly #p: TenantStorageAccessProps & {
    now: () => number;
    sleep: (ms: number) => Promise<void>;
    grantVersion: number;
  };
  readonly #creating = new Map<string, Promise<TenantStorageRoleRecord>>();
  readonly #granting = new Map<string, Promise<TenantStorageRoleRecord>>();

  constructor(props: TenantStorageAccessProps) {
    this.#p = {
      grantVersion: TENANT_STORAGE_GRANT_VERSION,
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      ...props,
    };
  }

  /** The tenant's state (one consistent read). */
  async state(scope: TenantScope): Promise<TenantStorageState> {
    const db = await this.#p.tenantClients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#p.tenantDataTable,
        Key: tenantKey(scope, STORAGE_ACCESS_SK),
        ConsistentRead: true,
      }),
    );
    return {
      version: (Item?.version as number | undefined) ?? 0,
      entries: pruneRevocations((Item?.entries as RevocationEntry[] | undefined) ?? [], this.#p.now()),
      ...(Item?.role ? { role: Item.role as TenantStorageRoleRecord } : {}),
      ...(Item?.closedAt ? { closedAt: Item.closedAt as string } : {}),
    };
  }

  /**
   * The tenant's storage role, created on first need (one creation per tenant per process at a time; IAM
   * settles races between processes), its inline grant rewritten first when the role carries an older one
   * than this deployment's (once per tenant per process at a time; a failure issues nothing, 503, and the next
   * call tries again). 404 once the tenant is being deleted.
   */
  async ensureRole(scope: TenantScope, known?: TenantStorageState): Promise<TenantStorageRoleRecord> {
    const state = known ?? (await this.state(scope));
    if (state.closedAt) throw new NotFoundError('No such tenant.');
    const { role } = state;
    if (role && (role.grantVersion ?? 1) >= this.#p.grantVersion) return role;
    const [flights, start] = role
      ? [this.#granting, () => this.#upgradeGrant(scope, role)]
      : [this.#creating, () => this.#createRole(scope)];
    let pending = flights.get(scope.tenantId);
    if (!pending) {
      pending = start().finally(() => flights.delete(scope.tenantId));
      flights.set(scope.tenantId, pending);
    }
    return pending;
  }

  /**
   * Rewrites the role's inline grant with this deployment's document, then records its version: first IAM, so
   * a failure leaves the record older and the next vend tries again (any failure issues nothing: 503). The record only moves forward
   * (conditional), so concurrent functions of one deployment agree; if a newer deployment recorded its grant
   * meanwhile, this rewrite may have overwritten it, so the record is set back to this version and the newer
   * deployment rewrites it once more on its next vend.
   */
  async #upgradeGrant(scope: TenantScope, role: TenantStorageRoleRecord): Promise<TenantStorageRoleRecord> {
    const version = this.#p.grantVersion;
    let applied: 'applied' | 'no-role';
    try {
      applied = await this.#p.roles.putGrant(scope.tenantId);
    } catch (error) {
      logger.warn('the tenant storage role grant could not be rewritten', {
        tenantId: scope.tenantId,
        error: error instanceof Error ? error.name : 'unknown',
      });
      if (error instanceof HttpProblemError) throw error;
      throw new TenantStorageGrantUnavailableError(error);
    }
    // The record names a role IAM does not have: only the tenant's deletion removes roles, and it closes
    // the tenant first.
    if (applied === 'no-role') throw new NotFoundError('No such tenant.');
    const db = await this.#p.tenantClients.forScope(scope);
    const key = tenantKey(scope, STORAGE_ACCESS_SK);
    try {
      await db.send(
        new UpdateCommand({
          TableName: this.#p.tenantDataTable,
          Key: key,
          UpdateExpression: 'SET #role.grantVersion = :version',
          ConditionExpression:
            'attribute_exists(#role) AND attribute_not_exists(closedAt) AND (attribute_not_exists(#role.grantVersion) OR #role.grantVersion < :version)',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: { ':version': version },
        }),
      );
      return { ...role, grantVersion: version };
    } catch (error) {
      // The grant is in place but not recorded: nothing is issued, and the next vend writes both again.
      if (!isConditionFailure(error)) throw new TenantStorageGrantUnavailableError(error);
    }
    const latest = await this.state(scope);
    if (latest.closedAt) {
      // The tenant was closed while the grant was written: the deletion may have removed the grant and the deny
      // already, and this write put the grant back. Deny everything on the role at once, as #createRole does;
      // the deletion's DeleteRole then fails on the policies left and its retry removes them.
      await this.#p.roles.putRevocations(scope.tenantId, [{ notBefore: revocationCutoff(this.#p.now()) }]);
      throw new NotFoundError('No such tenant.');
    }
    if (!latest.role) throw new NotFoundError('No such tenant.');
    const theirs = latest.role.grantVersion ?? 1;
    if (theirs > version) {
      try {
        await db.send(
          new UpdateCommand({
            TableName: this.#p.tenantDataTable,
            Key: key,
            UpdateExpression: 'SET #role.grantVersion = :version',
            ConditionExpression: '#role.grantVersion = :theirs',
            ExpressionAttributeNames: { '#role': 'role' },
            ExpressionAttributeValues: { ':version': version, ':theirs': theirs },
          }),
        );
      } catch (error) {
        // Moved on again: whoever moved it rewrote the grant after this function did.
        if (!isConditionFailure(error)) throw error;
      }
      return { ...latest.role, grantVersion: version };
    }
    // Another function of this deployment recorded the same grant first.
    return latest.role;
  }

  async #createRole(scope: TenantScope): Promise<TenantStorageRoleRecord> {
    const created = await this.#p.roles.create(scope.tenantId);
    const db = await this.#p.tenantClients.forScope(scope);
    try {
      const { Attributes } = await db.send(
        new UpdateCommand({
          TableName: this.#p.tenantDataTable,
          Key: tenantKey(scope, STORAGE_ACCESS_SK),
          UpdateExpression:
            'SET #role = if_not_exists(#role, :role), version = if_not_exists(version, :zero)',
          ConditionExpression: 'attribute_not_exists(closedAt)',
          ExpressionAttributeNames: { '#role': 'role' },
          ExpressionAttributeValues: {
            ':role': { ...created, grantVersion: this.#p.grantVersion },
            ':zero': 0,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes?.role as TenantStorageRoleRecord;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // The tenant was closed while the role was being made: deny everything on it at once; the deletion
      // that closed it removes roles by name, or finds this one on a retry.
      await this.#p.roles.putRevocations(scope.tenantId, [{ notBefore: revocationCutoff(this.#p.now()) }]);
      throw new NotFoundError('No such tenant.');
    }
  }

  /**
   * Records, before a credential is issued, that `userId` will hold one of `kind` until `untilMs`: the
   * record revocation consults. Written only when STS is called (cache misses), and only ever forward.
   */
  async recordIssue(
    scope: TenantScope,
    userId: string,
    kind: CredentialKind,
    untilMs: number,
  ): Promise<void> {
    const db = await this.#p.tenantClients.forScope(scope);
    const attribute = kind === 'managed' ? 'managedUntil' : 'externalUntil';
    const ttl = Math.ceil(
      (this.#p.now() + (MAX_CREDENTIAL_SECONDS + REVOCATION_RETENTION_SECONDS) * 1000) / 1000,
    );
    try {
      await db.send(
        new UpdateCommand({
          TableName: this.#p.tenantDataTable,
          Key: tenantKey(scope, storageHolderSk(userId)),
          UpdateExpression: 'SET #until = :until, #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(#until) OR #until < :until',
          ExpressionAttributeNames: { '#until': attribute, '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':until': untilMs, ':ttl': ttl },
        }),
      );
    } catch (error) {
      // A later expiry is on record already.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** What the user may still hold in this tenant (expired records are ignored: TTL deletion lags). */
  async holdings(scope: TenantScope, userId: string): Promise<Holdings> {
    const db = await this.#p.tenantClients.forScope(scope);
    const { Item } = await db.send(
      new GetCommand({
        TableName: this.#p.tenantDataTable,
        Key: tenantKey(scope, storageHolderSk(userId)),
        ConsistentRead: true,
      }),
    );
    if (!Item || (typeof Item.ttl === 'number' && Item.ttl * 1000 <= this.#p.now())) return {};
    return {
      ...(typeof Item.managedUntil === 'number' ? { managedUntil: Item.managedUntil } : {}),
      ...(typeof Item.externalUntil === 'number' ? { externalUntil: Item.externalUntil } : {}),
    };
  }

  /**
   * Stops every storage credential `userId` holds in this tenant, as far as each kind allows: managed-location
   * credentials are denied on the tenant's role; external-location ones cannot be (they are sessions of the
   * customer's role) and are reported with the time by which they expire. A user holding nothing that could
   * still be valid is refused with `refuse` (the revocation route), and otherwise left alone with nothing
   * written (membership changes).
   */
  async revokeUser(
    scope: TenantScope,
    userId: string,
    options: { refuse: boolean },
  ): Promise<UserRevocation> {
    const now = this.#p.now();
    const held = await this.holdings(scope, userId);
    const live = (until: number | undefined): until is number =>
      until !== undefined && until + CLOCK_SKEW_MS > now;
    const managed = live(held.managedUntil);
    const external = live(held.externalUntil);
    const subject = 'vended to this user';
    if (!managed && !external) {
      if (options.refuse) throw new NoLiveStorageCredentialsError();
      return { userId, credentials: [noneLive('managed', subject), noneLive('external', subject)] };
    }
    const notBefore = revocationCutoff(now);
    // The entry is written even for external credentials only: every warm vending function reads it and
    // stops serving that user's cached credentials.
    const applied = await this.#revoke(scope, revocationOf({ userId, notBefore }), managed);
    return {
      userId,
      revokedBefore: notBefore,
      credentials: [
        managed && applied ? managedDenied(notBefore, subject) : noneLive('managed', subject),
        external
          ? externalNotRevocable(
              new Date(Math.ceil(held.externalUntil! / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
              subject,
            )
          : noneLive('external', subject),
      ],
    };
  }

  /** Stops the credentials vended for a location that is being deleted, as far as its kind allows. */
  async revokeLocation(
    scope: TenantScope,
    location: { locationId: string; kind: CredentialKind },
  ): Promise<{ revokedBefore: string; credentials: RevocationOutcome[] }> {
    const notBefore = revocationCutoff(this.#p.now());
    const subject = 'vended for this location';
    let outcome: RevocationOutcome;
    if (location.kind === 'external') {
      outcome = externalNotRevocable(externalExpiryBound(notBefore), subject);
    } else {
      const state = await this.state(scope);
      const applied =
        state.role !== undefined &&
        (await this.#revoke(scope, revocationOf({ locationId: location.locationId, notBefore }), true));
      outcome = applied ? managedDenied(notBefore, subject) : noneLive('managed', subject);
    }
    return { revokedBefore: notBefore, credentials: [outcome] };
  }

  /**
   * Tenant deletion: closes the tenant's storage (no role is made and nothing vended from now on), denies
   * every session of the tenant, and removes its storage role. Safe to repeat.
   */
  async closeTenant(scope: TenantScope): Promise<{ revokedBefore: string; role: 'removed' | 'absent' }> {
    const now = this.#p.now();
    const notBefore = revocationCutoff(now);
    const { written } = await this.#write(
      scope,
      (state) => addRevocation(state.entries, revocationOf({ notBefore }), now),
      true,
    );
    const role = await this.#p.roles.remove(scope.tenantId, written.entries);
    return { revokedBefore: notBefore, role };
  }

  /**
   * Adds `entry` to the tenant's list and, with `toRole`, writes the list into the role's deny; if that
   * fails, the list is put back (unless another writer has moved on, whose write carries the entry) and the
   * revocation fails with 503. Returns whether the deny reached a role.
   */
  async #revoke(scope: TenantScope, entry: RevocationEntry, toRole: boolean): Promise<boolean> {
    const now = this.#p.now();
    const { previous, written } = await this.#write(scope, (s) => addRevocation(s.entries, entry, now));
    if (!toRole) return false;
    try {
      return (await this.#applyToRole(scope, written)) === 'applied';
    } catch (error) {
      await this.#restore(scope, previous, written).catch((restoreError: unknown) =>
        logger.error('a failed revocation could not be rolled back', {
          tenantId: scope.tenantId,
          error: restoreError instanceof Error ? restoreError.name : 'unknown',
        }),
      );
      if (error instanceof HttpProblemError) throw error;
      throw new RevocationUnavailableError(error);
    }
  }

  async #applyToRole(scope: TenantScope, state: TenantStorageState): Promise<'applied' | 'no-role'> {
    let applied = state;
    for (let round = 0; round < 8; round++) {
      const result = await this.#p.roles.putRevocations(
        scope.tenantId,
        pruneRevocations(applied.entries, this.#p.now()),
      );
      const latest = await this.state(scope);
      if (latest.version <= applied.version) return result;
      applied = latest;
    }
    throw new ServiceUnavailableError(2, 'The revocation list kept changing; try again.');
  }

  /** Optimistic read-modify-write of the entries (and, with `close`, the closure mark). */
  async #write(
    scope: TenantScope,
    change: (state: TenantStorageState) => RevocationEntry[],
    close = false,
  ): Promise<{ previous: TenantStorageState; written: TenantStorageState }> {
    const db = await this.#p.tenantClients.forScope(scope);
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const previous = await this.state(scope);
      const written: TenantStorageState = {
        ...previous,
        version: previous.version + 1,
        entries: change(previous),
        ...(close ? { closedAt: previous.closedAt ?? new Date(this.#p.now()).toISOString() } : {}),
      };
      try {
        await db.send(
          new UpdateCommand({
            TableName: this.#p.tenantDataTable,
            Key: tenantKey(scope, STORAGE_ACCESS_SK),
            UpdateExpression: `SET entries = :entries, version = :next${close ? ', closedAt = :closedAt' : ''}`,
            // Version 0 is also what an item without one reads as (made by the role's creation, or none).
            ConditionExpression: 'attribute_not_exists(version) OR version = :version',
            ExpressionAttributeValues: {
              ':entries': written.entries,
              ':next': written.version,
              ':version': previous.version,
              ...(close ? { ':closedAt': written.closedAt } : {}),
            },
          }),
        );
        return { previous, written };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Another revocation of this tenant won the race: back off a little, with jitter, and redo.
        await this.#p.sleep(10 * 2 ** Math.min(attempt, 5) * Math.random());
      }
    }
    throw new ServiceUnavailableError(2, 'Too many concurrent revocations in this tenant; try again.');
  }

  /** Puts the entries back as they were before a revocation whose IAM write failed. */
  async #restore(scope: TenantScope, previous: TenantStorageState, written: TenantStorageState) {
    const db = await this.#p.tenantClients.forScope(scope);
    try {
      await db.send(
        new UpdateCommand({
          TableName: this.#p.tenantDataTable,
          Key: tenantKey(scope, STORAGE_ACCESS_SK),
          UpdateExpression: 'SET entries = :entries, version = :next',
          ConditionExpression: 'version = :written',
          ExpressionAttributeValues: {
            ':entries': previous.entries,
            ':next': written.version + 1,
            ':written': written.version,
          },
        }),
      );
    } catch (error) {
      // Someone revoked after us: their list includes our entry, and their IAM write carries it.
      if (!isConditionFailure(error)) throw error;
    }
  }
}

/**
 * The tenant storage access of a function, from its runtime (STAGE, AWS_REGION, TENANT_DATA_TABLE,
 * TENANT_STORAGE_BOUNDARY_ARN) and its IAM client. With `vending`, it may also create tenant storage roles
 * (the vending function), granting the managed bucket's tenant prefix (STORAGE_BUCKET) and its key
 * (STORAGE_KEY_ARN, whose partition is the bucket's). The IAM client and the roles' module are loaded at the
 * first role change (shared/aws/loaded-on-use.ts): the routes that change roles are few.
 */
export function tenantStorageAccessFor(
  runtime: FunctionRuntime,
  deps: { tenantClients: Pick<TenantDataClients, 'forScope'>; vending?: boolean },
): TenantStorageAccess {
  const grant = deps.vending ? { grant: managedStorageGrant(runtime) } : {};
  const layout = tenantStorageLayout({
    stage: runtime.require('stage'),
    region: runtime.require('region'),
    boundaryArn: runtime.require('tenantStorageBoundaryArn'),
  });
  return new TenantStorageAccess({
    tenantClients: deps.tenantClients,
    tenantDataTable: runtime.require('tenantDataTable'),
    roles: loadedOnUse(async () => {
      const [{ IAMClient }, { TenantStorageRoles }] = await Promise.all([
        import('@aws-sdk/client-iam'),
        import('./tenant-storage-roles.js'),
      ]);
      return new TenantStorageRoles({ iam: runtime.client(IAMClient), layout, ...grant });
    }),
  });
}

/** The managed bucket and its key, as a vending function's tenant storage roles are granted them. */
function managedStorageGrant(runtime: FunctionRuntime): { bucketArn: string; storageKeyArn: string } {
  const storageKeyArn = runtime.require('storageKeyArn');
  const partition = storageKeyArn.split(':')[1] ?? 'aws';
  return { bucketArn: `arn:${partition}:s3:::${runtime.require('storageBucket')}`, storageKeyArn };
}
