/**
 * Creates and retires a tenant's KMS key (implemented over KMS in shared/crypto/tenant-keys.ts). Tenant
 * creation calls `create` before writing the tenant and `retire` if the write then fails, so there is
 * never a tenant without a key nor an orphaned key left enabled.
 */
export interface TenantKeyProvisioner {
  /** Creates the key (rotation on, alias, tag, policy) and returns its ARN. */
  create(tenantId: string): Promise<{ keyArn: string }>;
  /**
   * Checks that `keyArn` is one of this stage's tenant keys and reads its state, changing nothing: what a
   * deletion runs before it removes anything, so a KMS fault there leaves the tenant as it was.
   */
  checkRetirable(keyArn: string): Promise<RetirableKey>;
  /**
   * Disables the key and schedules its deletion (crypto-shredding); idempotent: a key already disabled is not
   * disabled again, one pending deletion (or gone) is left as it is. Given a checked key, only those two
   * steps run.
   */
  retire(key: string | RetirableKey): Promise<void>;
}

/** A tenant key checked by `checkRetirable`: its id (as DescribeKey names it) and its state then. */
export interface RetirableKey {
  keyArn: string;
  keyId: string;
  /** KMS KeyState, or `gone` when the key no longer exists. */
  state: string;
}
