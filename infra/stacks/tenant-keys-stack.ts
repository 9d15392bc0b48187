import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TenantKey, type TenantKeyProps } from '../constructs/tenant-key.js';

export interface TenantKeysStackProps extends StackProps {
  stage: string;
  /** Tenants homed in this stack's region whose keys CDK makes (validated by `parsePreProvisionedTenants`). */
  tenantIds: readonly string[];
  /**
   * The function roles that use tenant keys (`StatelessStack.tenantKeys.userRoles`, as ARNs): the same
   * roles the run-time key policies name, so a pre-provisioned key behaves like one made at tenant creation.
   */
  applicationRoleArns: readonly string[];
  /** The export bucket and the roles that write export archives, as tenant creation names them. */
  exportArchives?: TenantKeyProps['exportArchives'];
  /** The managed storage bucket, whose tenant prefixes' objects S3 encrypts with the tenant keys. */
  managedObjects?: TenantKeyProps['managedObjects'];
  /** Who encrypts and decrypts tenant IdP client secrets, as tenant creation names them. */
  oidcClientSecret?: TenantKeyProps['oidcClientSecret'];
  /** Who encrypts and decrypts S3-compatible stores' key pairs, as tenant creation names them. */
  storeKeyPairs?: TenantKeyProps['storeKeyPairs'];
}

/** The pinned CloudFormation logical IDs of a pre-provisioned tenant's key and alias. */
export function tenantKeyLogicalIds(tenantId: string): { key: string; alias: string } {
  const suffix = tenantId.replace(/^t_/, '').toUpperCase();
  return { key: `TenantKey${suffix}`, alias: `TenantKeyAlias${suffix}` };
}

/**
 * Keys of the tenants named in `strongroom:preProvisionedTenants`, one `TenantKey` each (the policy of
 * `tenantKeyPolicy()`, rotation, tags, alias; RETAIN).
 *
 * A stack of its own, after the stateless one: the key policies name the stateless stack's function roles,
 * so the keys cannot sit in the stateful stack (the stateless stack already depends on it: a cycle), and
 * the stateless stack is meant to be replaceable while these keys protect data. Termination protection
 * and pinned logical IDs, like the stateful stack: replacing a key would lose what it encrypted.
 *
 * The role ARNs arrive as cross-stack exports, so CloudFormation refuses to replace a tenant-key user's
 * role while this stack imports it; deploy such a change in two steps (add the new role, then drop the old).
 */
export class TenantKeysStack extends Stack {
  readonly keys: ReadonlyMap<string, TenantKey>;

  constructor(scope: Construct, id: string, props: TenantKeysStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    const keys = new Map<string, TenantKey>();
    for (const tenantId of props.tenantIds) {
      const tenantKey = new TenantKey(this, tenantId, {
        stage: props.stage,
        tenantId,
        applicationRoleArns: props.applicationRoleArns,
        exportArchives: props.exportArchives,
        managedObjects: props.managedObjects,
        oidcClientSecret: props.oidcClientSecret,
        storeKeyPairs: props.storeKeyPairs,
      });
      const ids = tenantKeyLogicalIds(tenantId);
      pin(tenantKey.key, ids.key);
      pin(tenantKey.alias, ids.alias);
      keys.set(tenantId, tenantKey);
    }
    this.keys = keys;
  }
}

function pin(construct: Construct, logicalId: string): void {
  const resource = construct.node.defaultChild as { overrideLogicalId(id: string): void } | undefined;
  if (!resource) throw new Error(`${construct.node.path} has no CloudFormation resource to pin`);
  resource.overrideLogicalId(logicalId);
}
