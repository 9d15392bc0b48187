import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV_VARS } from '../../shared/aws/config.js';
import type { PolicyStatement } from '../../shared/domain/iam.js';
import {
  storageVendingRolePath,
  type TenantStorageLayout,
  tenantStorageRemovalStatements,
  tenantStorageRolePath,
  tenantStorageVendingStatements,
} from '../../shared/domain/tenant-storage-role.js';
import type { StrongroomFunction } from './strongroom-function.js';

/**
 * IAM for the per-tenant storage roles that functions create, revoke on and remove at run time
 * (shared/domain/tenant-storage-role.ts). The statements are the domain's, verbatim, so the simulator tests
 * prove exactly what is deployed; this only resolves the layout to this stack's partition, account and
 * region and tells the function the boundary's ARN.
 */
export class TenantStorageRoleAccess {
  readonly #stage: string;
  readonly #boundaryArn: string;

  constructor(props: { stage: string; boundaryArn: string }) {
    this.#stage = props.stage;
    this.#boundaryArn = props.boundaryArn;
  }

  /** The vending (storage) function: create, configure and assume tenant storage roles; never delete one. */
  grantVending(fn: StrongroomFunction): void {
    this.#apply(fn, tenantStorageVendingStatements(this.#layout(fn)), 'create and assume');
  }

  /** Functions that revoke (membership changes) and remove roles (tenant deletion); never create one. */
  grantRemoval(fn: StrongroomFunction): void {
    this.#apply(fn, tenantStorageRemovalStatements(this.#layout(fn)), 'revoke on and remove');
  }

  #layout(fn: StrongroomFunction): TenantStorageLayout {
    const stack = Stack.of(fn);
    return {
      partition: stack.partition,
      accountId: stack.account,
      rolePath: tenantStorageRolePath(this.#stage, stack.region),
      vendingRolePath: storageVendingRolePath(this.#stage, stack.region),
      boundaryArn: this.#boundaryArn,
    };
  }

  #apply(fn: StrongroomFunction, statements: PolicyStatement[], what: string): void {
    for (const statement of statements) fn.role.addToPrincipalPolicy(iam.PolicyStatement.fromJson(statement));
    fn.function.addEnvironment(ENV_VARS.tenantStorageBoundaryArn, this.#boundaryArn);
    const stack = Stack.of(fn);
    // As cdk-nag spells the resource in finding ids: unresolved parts as `<AWS::…>`.
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::${account}:role/strongroom/${this.#stage}/${stack.region}/tenant-storage/*]`,
      reason: `Each tenant's storage role is made at run time, so its name is unknown at deploy time; the function may ${what} roles on this deployment's tenant-storage path only, and changes only roles that carry the fixed permissions boundary (iam:PermissionsBoundary), which confines every session to its own tenant's prefix.`,
    });
  }
}
