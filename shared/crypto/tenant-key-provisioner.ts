/**
 * Creates and retires a tenant's KMS key (implemented over KMS in shared/crypto/tenant-keys.ts). Tenant
 * creation calls `create` before writing the tenant and `retire` if the write then fails, so there is
 * never a tenant without a key nor an orphaned key left enabled.
 */
export interface TenantKeyProvisioner {
  /** Creates the key (rotation on, alias, tag, policy) and returns its ARN. */
  create(tenantId: string): Promise<{ keyArn: string }>;
  /** Disables the key and schedules its deletion (crypto-shredding); idempotent. */
  retire(keyArn: string): Promise<void>;
}
