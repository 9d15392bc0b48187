import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  type IAMClient,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { type RevocationEntry, revocationPolicy } from '../domain/storage-revocation.js';
import {
  REVOCATION_POLICY_NAME,
  TENANT_STORAGE_MAX_SESSION_SECONDS,
  TENANT_STORAGE_POLICY_NAME,
  type TenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRoleName,
  tenantStorageRolePolicy,
  tenantStorageTrustPolicy,
} from '../domain/tenant-storage-role.js';
import { HttpProblemError } from '../errors.js';
import { logger } from '../observability.js';

export interface TenantStorageRolesProps {
  iam: IAMClient;
  layout: TenantStorageLayout;
  /** What a created role grants (the managed bucket and its key): only the vending function creates roles. */
  grant?: { bucketArn: string; storageKeyArn: string };
}

/** A tenant storage role that exists but is not the one this deployment would have made: never used. */
export class TenantStorageRoleMismatchError extends HttpProblemError {
  constructor(what: string) {
    super(500, 'tenant-storage-role-mismatch', 'Internal Server Error', {
      detail:
        "This tenant's storage role is not in the expected state; nothing was issued. An operator has been alerted.",
    });
    this.name = 'TenantStorageRoleMismatchError';
    logger.error('tenant storage role mismatch', { what });
  }
}

const errorName = (error: unknown) => (error instanceof Error ? error.name : '');
const isNoSuchEntity = (error: unknown) => /^NoSuchEntity/.test(errorName(error));

/** Order-insensitive structural equality of two JSON values (single values and one-element lists alike). */
function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v))
      return v.length === 1
        ? norm(v[0])
        : v
            .map(norm)
            .map((x) => JSON.stringify(x))
            .sort();
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([k, x]) => [k, norm(x)]),
      );
    return v;
  };
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

/** IAM returns policy documents URL-encoded; the local emulator sometimes does not. */
function parsePolicyDocument(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(decodeURIComponent(text));
  } catch {
    return JSON.parse(text);
  }
}

/**
 * Tenant storage roles in IAM (shared/domain/tenant-storage-role.ts): created by the vending function the
 * first time a tenant needs managed storage, given its tenant's revocation deny as an inline policy, and
 * removed with the tenant. Every call names the role by its deterministic ARN, so nothing here needs to be
 * remembered for the role to be found again, and every step can be repeated.
 */
export class TenantStorageRoles {
  readonly #p: TenantStorageRolesProps;

  constructor(props: TenantStorageRolesProps) {
    this.#p = props;
  }

  /** The ARN of the tenant's storage role (whether or not it exists). */
  arnOf(tenantId: string): string {
    return tenantStorageRoleArn(this.#p.layout, tenantId);
  }

  /**
   * Creates the tenant's role on the tenant-storage path with the boundary, this deployment's trust policy
   * and the tenant's inline grant, and returns when it was created. A role that already exists (a concurrent
   * or an interrupted creation) is used only if it has exactly that path, boundary and trust policy.
   */
  async create(tenantId: string): Promise<{ arn: string; createdAt: number }> {
    const { iam, layout, grant } = this.#p;
    if (!grant) throw new Error('this function does not create tenant storage roles');
    const RoleName = tenantStorageRoleName(tenantId);
    const trust = tenantStorageTrustPolicy({ layout, tenantId });
    let role: Role | undefined;
    try {
      ({ Role: role } = await iam.send(
        new CreateRoleCommand({
          RoleName,
          Path: layout.rolePath,
          AssumeRolePolicyDocument: JSON.stringify(trust),
          PermissionsBoundary: layout.boundaryArn,
          MaxSessionDuration: TENANT_STORAGE_MAX_SESSION_SECONDS,
          Description: `Strongroom storage credentials of tenant ${tenantId}`,
        }),
      ));
    } catch (error) {
      if (errorName(error) !== 'EntityAlreadyExistsException') throw error;
      ({ Role: role } = await iam.send(new GetRoleCommand({ RoleName })));
      this.#verify(tenantId, role, trust);
    }
    await iam.send(
      new PutRolePolicyCommand({
        RoleName,
        PolicyName: TENANT_STORAGE_POLICY_NAME,
        PolicyDocument: JSON.stringify(tenantStorageRolePolicy({ tenantId, ...grant })),
      }),
    );
    return { arn: this.arnOf(tenantId), createdAt: role?.CreateDate?.getTime() ?? Date.now() };
  }

  /**
   * Rewrites the tenant's inline grant with this deployment's document (a role made under an older grant).
   * `no-role` when the role does not exist.
   */
  async putGrant(tenantId: string): Promise<'applied' | 'no-role'> {
    const { grant } = this.#p;
    if (!grant) throw new Error('this function does not grant tenant storage roles');
    try {
      await this.#p.iam.send(
        new PutRolePolicyCommand({
          RoleName: tenantStorageRoleName(tenantId),
          PolicyName: TENANT_STORAGE_POLICY_NAME,
          PolicyDocument: JSON.stringify(tenantStorageRolePolicy({ tenantId, ...grant })),
        }),
      );
      return 'applied';
    } catch (error) {
      if (!isNoSuchEntity(error)) throw error;
      return 'no-role';
    }
  }

  #verify(tenantId: string, role: Role | undefined, trust: unknown): void {
    const { layout } = this.#p;
    if (role?.Path !== layout.rolePath) throw new TenantStorageRoleMismatchError(`${tenantId}: path`);
    if (role.PermissionsBoundary?.PermissionsBoundaryArn !== layout.boundaryArn)
      throw new TenantStorageRoleMismatchError(`${tenantId}: permissions boundary`);
    if (!sameJson(parsePolicyDocument(role.AssumeRolePolicyDocument), trust))
      throw new TenantStorageRoleMismatchError(`${tenantId}: trust policy`);
  }

  /**
   * Writes the tenant's revocation deny (or deletes it when nothing is left to deny). `no-role` when the
   * tenant has no storage role: then no managed-location session of the tenant can exist either.
   */
  async putRevocations(
    tenantId: string,
    entries: readonly RevocationEntry[],
  ): Promise<'applied' | 'no-role'> {
    const RoleName = tenantStorageRoleName(tenantId);
    const policy = revocationPolicy(entries);
    try {
      if (policy)
        await this.#p.iam.send(
          new PutRolePolicyCommand({
            RoleName,
            PolicyName: REVOCATION_POLICY_NAME,
            PolicyDocument: JSON.stringify(policy),
          }),
        );
      else
        await this.#p.iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: REVOCATION_POLICY_NAME }));
      return 'applied';
    } catch (error) {
      if (!isNoSuchEntity(error)) throw error;
      // Deleting a policy the role never had is success; a missing role means no session to deny.
      if (!policy) return 'applied';
      return 'no-role';
    }
  }

  /**
   * Removes the tenant's role for good: first `entries` (a tenant-wide deny) so every session stops at
   * once, then the grant, then every other inline policy, then the role. A deleted role's sessions have no
   * policy left to allow anything, and a role made later under the same name is a different principal (a new
   * unique id) whose policies never apply to them. `absent` when there was no role.
   */
  async remove(tenantId: string, entries: readonly RevocationEntry[]): Promise<'removed' | 'absent'> {
    const { iam } = this.#p;
    const RoleName = tenantStorageRoleName(tenantId);
    if ((await this.putRevocations(tenantId, entries)) === 'no-role') return 'absent';
    const names = new Set<string>([TENANT_STORAGE_POLICY_NAME]);
    try {
      let marker: string | undefined;
      do {
        const page = await iam.send(new ListRolePoliciesCommand({ RoleName, Marker: marker }));
        for (const name of page.PolicyNames ?? []) names.add(name);
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      // The deny goes last: until the grant is gone it is what stops the sessions.
      names.delete(REVOCATION_POLICY_NAME);
      for (const PolicyName of [...names, REVOCATION_POLICY_NAME]) {
        try {
          await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName }));
        } catch (error) {
          // Already gone (an earlier attempt); a role that is gone as a whole fails DeleteRole below.
          if (!isNoSuchEntity(error)) throw error;
        }
      }
      await iam.send(new DeleteRoleCommand({ RoleName }));
    } catch (error) {
      if (isNoSuchEntity(error) && (await this.#exists(RoleName)) === false) return 'removed';
      throw error;
    }
    return 'removed';
  }

  async #exists(RoleName: string): Promise<boolean> {
    try {
      await this.#p.iam.send(new GetRoleCommand({ RoleName }));
      return true;
    } catch (error) {
      if (isNoSuchEntity(error)) return false;
      throw error;
    }
  }
}
