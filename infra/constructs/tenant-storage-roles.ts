import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
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

export interface TenantStorageRolesProps {
  stage: string;
  /** The permissions boundary every tenant storage role carries (the stateful stack makes it). */
  boundaryArn: string;
}

/**
 * The per-tenant storage roles that functions create, revoke on and remove at run time
 * (shared/domain/tenant-storage-role.ts). They do not exist at deploy time, so this construct holds no
 * resource: it is their layout in this stack (partition, account, region, role paths, boundary) and the
 * grants on them. The statements are the domain's, verbatim, so the simulator tests prove exactly what is
 * deployed.
 */
export class TenantStorageRoles extends Construct {
  readonly #stage: string;
  readonly #layout: TenantStorageLayout;

  constructor(scope: Construct, id: string, props: TenantStorageRolesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.#stage = props.stage;
    this.#layout = {
      partition: stack.partition,
      accountId: stack.account,
      rolePath: tenantStorageRolePath(props.stage, stack.region),
      vendingRolePath: storageVendingRolePath(props.stage, stack.region),
      boundaryArn: props.boundaryArn,
    };
  }

  /** The vending (storage) function: create, configure and assume tenant storage roles; never delete one. */
  grantVend(fn: StrongroomFunction): void {
    this.#grant(fn, tenantStorageVendingStatements(this.#layout), 'create and assume');
  }

  /** Functions that revoke (membership changes) and remove roles (tenant deletion); never create one. */
  grantRevoke(fn: StrongroomFunction): void {
    this.#grant(fn, tenantStorageRemovalStatements(this.#layout), 'revoke on and remove');
  }

  #grant(fn: StrongroomFunction, statements: PolicyStatement[], what: string): void {
    for (const statement of statements) fn.role.addToPrincipalPolicy(iam.PolicyStatement.fromJson(statement));
    fn.function.addEnvironment(ENV_VARS.tenantStorageBoundaryArn, this.#layout.boundaryArn);
    const stack = Stack.of(this);
    // As cdk-nag spells the resource in finding ids: unresolved parts as `<AWS::…>`.
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::${account}:role/strongroom/${this.#stage}/${stack.region}/tenant-storage/*]`,
      reason: `Each tenant's storage role is made at run time, so its name is unknown at deploy time; the function may ${what} roles on this deployment's tenant-storage path only, and changes only roles that carry the fixed permissions boundary (iam:PermissionsBoundary), which confines every session to its own tenant's prefix.`,
    });
  }
}
