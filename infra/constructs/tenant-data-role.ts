import { Lazy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { tenantDataRolePolicy } from '../../shared/domain/tenant-data-policy.js';
import { dnsSuffixOf } from './dns-suffix.js';

export interface TenantDataRoleProps {
  tenantDataTable: dynamodb.ITable;
  auditTable: dynamodb.ITable;
  /** Read only: sessions read their tenant's chain, never write it. */
  auditChainTable: dynamodb.ITable;
  /** The key the tables are encrypted with: sessions may use it only through DynamoDB. */
  tableKey: kms.IKey;
}

/** What a function's tenant-data sessions may do to its session (shared/store/tenant-data-client.ts). */
export const TENANT_DATA_ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:TagSession'] as const;

/**
 * The role whose per-tenant sessions (narrowed by the `dynamodb:LeadingKeys` session policy) read and write
 * tenant data. Its own policy is `tenantDataRolePolicy()`, verbatim. Its trust policy names exactly the
 * function roles given to `grantAssume`, and nothing else; with none yet it trusts nobody.
 *
 * It lives in the stateless stack, beside those functions: a trust policy naming function roles from
 * another stack would make the stateful stack depend on the stateless one.
 */
export class TenantDataRole extends Construct {
  readonly roleArn: string;
  readonly #trusted: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: TenantDataRoleProps) {
    super(scope, id);
    const role = new iam.CfnRole(this, 'Resource', {
      description: 'Strongroom tenant-data sessions; each session is confined to one tenant partition',
      // tenant-data-client.ts asks for one-hour sessions; Lambda role chaining allows at most that.
      maxSessionDuration: 3600,
      assumeRolePolicyDocument: Lazy.any({ produce: () => this.#trustPolicy() }),
      policies: [
        {
          policyName: 'tenant-data',
          policyDocument: tenantDataRolePolicy({
            tenantDataTableArn: props.tenantDataTable.tableArn,
            auditTableArn: props.auditTable.tableArn,
            auditChainTableArn: props.auditChainTable.tableArn,
            tableKeyArn: props.tableKey.keyArn,
            region: Stack.of(this).region,
            dnsSuffix: dnsSuffixOf(this),
          }),
        },
      ],
    });
    this.roleArn = role.attrArn;
  }

  /** Lets `role` open tenant-scoped sessions: adds it to the trust policy and grants it the STS calls. */
  grantAssume(role: iam.IRole): void {
    if (this.#trusted.includes(role)) return;
    this.#trusted.push(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TenantDataSessions',
        actions: [...TENANT_DATA_ASSUME_ACTIONS],
        resources: [this.roleArn],
      }),
    );
  }

  #trustPolicy(): object {
    if (this.#trusted.length === 0) {
      return {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'NoFunctionYet', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
        ],
      };
    }
    return {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'FunctionRolesOnly',
          Effect: 'Allow',
          Principal: { AWS: this.#trusted.map((role) => role.roleArn) },
          Action: [...TENANT_DATA_ASSUME_ACTIONS],
        },
      ],
    };
  }
}
