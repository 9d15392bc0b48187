import { Template } from 'aws-cdk-lib/assertions';
import type { StatelessStack } from '../../infra/stacks/stateless-stack.js';

/** The account and region concrete ARNs are made in (any will do: only the table names matter). */
export const ACCOUNT = '123456789012';
const REGION = 'eu-central-1';

/** Concrete ARNs of the stateful stack's tables, by the logical id CloudFormation exports them under. */
export const TABLE_ARNS = {
  identity: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/strongroom-identity`,
  tenantData: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/strongroom-tenant-data`,
  audit: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/strongroom-audit`,
  auditChain: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/strongroom-audit-chain`,
} as const;
/** Concrete ARNs of the stateful stack's data buckets. */
export const BUCKET_ARNS = {
  exports: 'arn:aws:s3:::strongroom-exports',
  storage: 'arn:aws:s3:::strongroom-storage',
} as const;
const BY_LOGICAL_ID: Record<string, string> = {
  IdentityTable: TABLE_ARNS.identity,
  TenantDataTable: TABLE_ARNS.tenantData,
  AuditTable: TABLE_ARNS.audit,
  AuditChainTable: TABLE_ARNS.auditChain,
  ExportBucket: BUCKET_ARNS.exports,
  StorageBucket: BUCKET_ARNS.storage,
};

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/**
 * A CloudFormation value made concrete: table and bucket ARNs imported from the stateful stack become
 * `TABLE_ARNS` and `BUCKET_ARNS`, joins are joined, and any other reference becomes an ARN no request in
 * these tests names.
 */
function concrete(value: unknown): unknown {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(concrete);
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    const imported = object['Fn::ImportValue'];
    if (typeof imported === 'string') {
      const table = /GetAtt(\w+?(?:Table|Bucket))Arn/.exec(imported)?.[1];
      return (table && BY_LOGICAL_ID[table]) ?? `arn:aws:unresolved:::${imported}`;
    }
    const join = object['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(concrete).join(join[0]);
    if (Object.keys(object).some((k) => k.startsWith('Fn::') || k === 'Ref'))
      return `arn:aws:unresolved:::${JSON.stringify(value)}`;
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, concrete(v)]));
  }
  return value;
}

/** Every statement of every policy attached to a function's role, with resources made concrete. */
export function rolePolicyStatements(stack: StatelessStack, roleName: string): Statement[] {
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  return policies
    .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === roleName))
    .flatMap((p) => p.Properties.PolicyDocument.Statement)
    .map((s) => ({
      ...s,
      Resource: concrete(s.Resource),
      ...(s.Condition ? { Condition: concrete(s.Condition) as Statement['Condition'] } : {}),
    }));
}

/** The identity policies of an API area's function, for the simulator. */
export function areaIdentityPolicies(stack: StatelessStack, area: keyof StatelessStack['functions']) {
  const fn = stack.functions[area];
  if (!fn) throw new Error(`no ${area} function`);
  const roleName = JSON.stringify(stack.resolve(fn.role.roleName));
  return [{ Version: '2012-10-17', Statement: rolePolicyStatements(stack, roleName) }];
}

/** The assumed-role session ARN of an area's function, as the simulator's principal. */
export const functionPrincipal = (area: string) =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-${area}/fn`;
