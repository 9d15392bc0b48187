import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { sessionPolicyFor } from '../../shared/domain/storage-policy.js';
import { managedRoot } from '../../shared/domain/storage-roots.js';
import {
  tenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRoleName,
} from '../../shared/domain/tenant-storage-role.js';
import { simulate } from './iam-simulator.js';
import { TEST_REGION, TEST_STAGE } from './integration-setup.js';

/** An IAM client on the emulator at `endpoint`, for reading the roles and policies the functions wrote. */
export function emulatorIam(endpoint: string): IAMClient {
  return new IAMClient({
    endpoint,
    region: TEST_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

/** The inline policies the emulator holds for a tenant's storage role, by name. */
export async function rolePolicies(iam: IAMClient, tenantId: string): Promise<Record<string, unknown>> {
  const RoleName = tenantStorageRoleName(tenantId);
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName }));
  const out: Record<string, unknown> = {};
  for (const PolicyName of PolicyNames) {
    const { PolicyDocument } = await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }));
    out[PolicyName] = JSON.parse(decodeURIComponent(PolicyDocument!));
  }
  return out;
}

/** The tenant-storage permissions boundary as the emulator holds it. */
export async function storageBoundary(iam: IAMClient): Promise<unknown> {
  const arn = process.env.TENANT_STORAGE_BOUNDARY_ARN!;
  const { Policy } = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  const { PolicyVersion } = await iam.send(
    new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: Policy!.DefaultVersionId }),
  );
  const doc = PolicyVersion!.Document!;
  return typeof doc === 'string' ? JSON.parse(decodeURIComponent(doc)) : doc;
}

/**
 * What AWS would decide for a read by a managed-location session of `tenantId`'s role issued at `issued`,
 * judged by the IAM policy simulator on the policies the emulator actually holds (it enforces none).
 */
export async function managedSessionDecision(
  iam: IAMClient,
  input: { tenantId: string; userId: string; locationId: string; issued: string; action: string },
): Promise<string> {
  const layout = tenantStorageLayout({
    stage: TEST_STAGE,
    region: TEST_REGION,
    boundaryArn: process.env.TENANT_STORAGE_BOUNDARY_ARN!,
  });
  const bucket = process.env.STORAGE_BUCKET!;
  const root = managedRoot(bucket, input.tenantId, input.locationId);
  return simulate({
    principal: `arn:aws:sts::${layout.accountId}:assumed-role/${tenantStorageRoleName(input.tenantId)}/s`,
    action: input.action,
    resource: `arn:aws:s3:::${bucket}/${root.prefix}/data.csv`,
    context: {
      'aws:PrincipalArn': tenantStorageRoleArn(layout, input.tenantId),
      'aws:PrincipalTag/TenantId': input.tenantId,
      'aws:PrincipalTag/UserId': input.userId,
      'aws:PrincipalTag/Access': 'read',
      'aws:PrincipalTag/LocationId': input.locationId,
      'aws:TokenIssueTime': input.issued,
    },
    identityPolicies: Object.values(await rolePolicies(iam, input.tenantId)),
    sessionPolicy: sessionPolicyFor({ ...root, access: 'read', kmsKeyArn: process.env.STORAGE_KEY_ARN! }),
    boundary: await storageBoundary(iam),
  });
}

/** A tenant's audit events with one action, straight from the table. */
export async function tenantAuditEvents(endpoint: string, tenantId: string, action: string) {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: TEST_REGION }));
  const { Items } = await ddb.send(
    new QueryCommand({
      TableName: process.env.AUDIT_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tenantId },
    }),
  );
  return (Items ?? []).filter((i) => i.action === action);
}
