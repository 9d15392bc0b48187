import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeletePolicyVersionCommand,
  GetPolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListPolicyVersionsCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DescribeKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ENV_VARS } from '../../shared/aws/config.js';
import { AUDIT_MAC_KEY, auditMacKeyAlias, auditMacKeyPolicy } from '../../shared/domain/audit-mac-key.js';
import { managedBucketPolicyStatements } from '../../shared/domain/storage-policy.js';
import { tenantDataRolePolicy } from '../../shared/domain/tenant-data-policy.js';
import {
  tenantStorageBoundaryName,
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
} from '../../shared/domain/tenant-storage-role.js';
import { TABLES, type TableDef } from '../../shared/store/tables.js';

export interface LocalAwsOptions {
  endpoint: string;
  region: string;
  stage: string;
}

/** Static credentials for the emulator; it accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
export const LOCAL_ACCOUNT = '123456789012';

export function localClientConfig(options: LocalAwsOptions) {
  return { endpoint: options.endpoint, region: options.region, credentials: LOCAL_CREDENTIALS };
}

/** Physical table name in local mode (CloudFormation generates them in AWS). */
export function localTableName(stage: string, table: TableDef): string {
  return `strongroom-${stage}-${table.id}`;
}

/** The CreateTable request for a table definition: the same keys, indexes and stream as the CDK table. */
export function createTableInput(name: string, table: TableDef): CreateTableCommandInput {
  const attributes = new Set([
    table.partitionKey,
    table.sortKey,
    ...table.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]);
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      { AttributeName: table.sortKey, KeyType: 'RANGE' },
    ],
    ...(table.indexes.length
      ? {
          GlobalSecondaryIndexes: table.indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          })),
        }
      : {}),
    ...(table.stream !== 'NONE'
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream } }
      : {}),
    DeletionProtectionEnabled: true,
  };
}

const tableArn = (options: LocalAwsOptions, name: string) =>
  `arn:aws:dynamodb:${options.region}:${LOCAL_ACCOUNT}:table/${name}`;

/** A trust policy that lets the account's principals (in AWS: only the named function roles) assume a role. */
function localTrustPolicy() {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${LOCAL_ACCOUNT}:root` },
        Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      },
    ],
  });
}

async function ensureRole(
  iam: IAMClient,
  name: string,
  trustPolicy: string,
  policyName: string,
  policy: object,
) {
  let arn: string | undefined;
  try {
    arn = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.Arn;
  } catch {
    arn = (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trustPolicy })))
      .Role?.Arn;
  }
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: policyName,
      PolicyDocument: JSON.stringify(policy),
    }),
  );
  if (!arn) throw new Error(`role ${name} has no ARN`);
  return arn;
}

/**
 * Creates, in the emulator, what the CDK stateful stack defines: the tables (from shared/store/tables.ts),
 * the platform KMS key, the tenant-data role (policy from shared/domain) and the buckets. Idempotent.
 * Returns the environment the functions read.
 */
export async function provisionLocal(options: LocalAwsOptions): Promise<Record<string, string>> {
  const config = localClientConfig(options);
  const dynamo = new DynamoDBClient(config);
  const kms = new KMSClient(config);
  const iam = new IAMClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const env: Record<string, string> = {
    [ENV_VARS.stage]: options.stage,
    [ENV_VARS.region]: options.region,
    [ENV_VARS.endpoint]: options.endpoint,
    [ENV_VARS.allowPrivateNetworks]: 'true',
  };

  for (const table of TABLES) {
    const name = localTableName(options.stage, table);
    try {
      await dynamo.send(new CreateTableCommand(createTableInput(name, table)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await dynamo.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
      }),
    );
    await dynamo.send(
      new UpdateContinuousBackupsCommand({
        TableName: name,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    );
    env[table.envVar] = name;
  }

  env[ENV_VARS.platformKeyArn] = await ensureKey(
    kms,
    `alias/strongroom/${options.stage}/platform`,
    'Strongroom platform key (local)',
  );
  // The managed storage bucket's own key, as in the stateful stack: vended sessions may use it via S3.
  env[ENV_VARS.storageKeyArn] = await ensureKey(
    kms,
    `alias/strongroom/${options.stage}/storage`,
    'Strongroom storage key (local)',
  );

  // The audit MAC key, as in the stateful stack: HMAC, with the key policy that denies GenerateMac to all
  // but the sealing roles (the emulator does not enforce key policies; the simulator tests prove it).
  env[ENV_VARS.auditMacKeyArn] = await ensureKey(
    kms,
    auditMacKeyAlias(options.stage),
    'Strongroom audit MAC key (local)',
    {
      KeySpec: AUDIT_MAC_KEY.keySpec,
      KeyUsage: AUDIT_MAC_KEY.keyUsage,
      Policy: JSON.stringify(
        auditMacKeyPolicy({ accountId: LOCAL_ACCOUNT, partition: 'aws', stage: options.stage }),
      ),
    },
  );

  const tables = {
    tenantDataTableArn: tableArn(options, env.TENANT_DATA_TABLE!),
    auditTableArn: tableArn(options, env.AUDIT_TABLE!),
    auditChainTableArn: tableArn(options, env.AUDIT_CHAIN_TABLE!),
    tableKeyArn: env[ENV_VARS.platformKeyArn]!,
  };
  env[ENV_VARS.tenantDataTableArn] = tables.tenantDataTableArn;
  env[ENV_VARS.auditTableArn] = tables.auditTableArn;
  env[ENV_VARS.auditChainTableArn] = tables.auditChainTableArn;
  env[ENV_VARS.tenantDataRoleArn] = await ensureRole(
    iam,
    `strongroom-${options.stage}-tenant-data`,
    localTrustPolicy(),
    'tenant-data',
    tenantDataRolePolicy(tables),
  );

  // Locally the function roles are all the caller's credentials; the tenant-data role stands in for the
  // application roles named in tenant key policies (moto does not enforce key policies anyway).
  env[ENV_VARS.tenantKeyUserRoleArns] = env[ENV_VARS.tenantDataRoleArn]!;
  // Likewise for the export statement, so local tenant keys have the deployed policy's shape.
  env[ENV_VARS.tenantExportRoleArns] = env[ENV_VARS.tenantDataRoleArn]!;
  // And for a tenant IdP's client secret (encrypted by the tenants function, decrypted by auth).
  env[ENV_VARS.tenantOidcSecretEncryptRoleArns] = env[ENV_VARS.tenantDataRoleArn]!;
  env[ENV_VARS.tenantOidcSecretDecryptRoleArns] = env[ENV_VARS.tenantDataRoleArn]!;
  // And for the key pairs of S3-compatible stores (the storage function encrypts and decrypts them).
  env[ENV_VARS.tenantStoreKeyRoleArns] = env[ENV_VARS.tenantDataRoleArn]!;

  for (const [envName, bucket] of [
    [ENV_VARS.storageBucket, `strongroom-${options.stage}-storage`],
    [ENV_VARS.exportBucket, `strongroom-${options.stage}-exports`],
  ] as const) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (!(error instanceof Error && /BucketAlready(OwnedByYou|Exists)/.test(error.name))) throw error;
    }
    env[envName] = bucket;
  }
  // SSE-KMS with the storage key and Bucket Keys off, as deployed (managed objects go under tenant keys,
  // whose policies refuse a Bucket Key; the emulator neither calls KMS for it nor checks the caller's KMS
  // permissions; the simulator tests prove those).
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket: env[ENV_VARS.storageBucket],
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: env[ENV_VARS.storageKeyArn],
            },
            BucketKeyEnabled: false,
          },
        ],
      },
    }),
  );
  // The managed bucket's own policy, as deployed (one generator in shared/domain): the emulator's wrapper
  // (infra/local/moto-server.py) evaluates its denies, and the caller's session policy, on every write.
  await s3.send(
    new PutBucketPolicyCommand({
      Bucket: env[ENV_VARS.storageBucket],
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: managedBucketPolicyStatements(
          `arn:aws:s3:::${env[ENV_VARS.storageBucket]}`,
          env[ENV_VARS.storageKeyArn]!,
        ),
      }),
    }),
  );
  // The permissions boundary of tenant storage roles, as the stateful stack makes it (one generator in
  // shared/domain); the storage function creates each tenant's role under it on first need, as deployed.
  // moto ignores boundaries, trust policies and conditions: the simulator tests prove them.
  const boundaryName = tenantStorageBoundaryName(options.stage, options.region);
  const boundaryArn = `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${boundaryName}`;
  await ensureManagedPolicy(
    iam,
    boundaryName,
    boundaryArn,
    tenantStorageBoundaryPolicy({
      bucketArn: `arn:aws:s3:::${env[ENV_VARS.storageBucket]}`,
      storageKeyArn: env[ENV_VARS.storageKeyArn]!,
      layout: tenantStorageLayout({ stage: options.stage, region: options.region, boundaryArn }),
    }),
  );
  env[ENV_VARS.tenantStorageBoundaryArn] = boundaryArn;
  for (const client of [dynamo, kms, iam, s3]) client.destroy();
  return env;
}

/** Creates a managed policy, or makes `document` its default version when it exists already. */
async function ensureManagedPolicy(iam: IAMClient, name: string, arn: string, document: object) {
  const PolicyDocument = JSON.stringify(document);
  try {
    await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  } catch (error) {
    if (!(error instanceof Error && /^NoSuchEntity/.test(error.name))) throw error;
    await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument }));
    return;
  }
  // IAM keeps at most five versions: drop the oldest non-default ones first.
  const { Versions = [] } = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
  const old = Versions.filter((v) => !v.IsDefaultVersion).sort(
    (a, b) => (a.CreateDate?.getTime() ?? 0) - (b.CreateDate?.getTime() ?? 0),
  );
  for (const version of old.slice(0, Math.max(0, old.length - 3)))
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: version.VersionId }));
  await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument, SetAsDefault: true }));
}

/** The ARN of the key behind `alias`, creating key and alias on first provisioning. */
async function ensureKey(
  kms: KMSClient,
  alias: string,
  description: string,
  spec: Pick<CreateKeyCommandInput, 'KeySpec' | 'KeyUsage' | 'Policy'> = {},
): Promise<string> {
  try {
    const arn = (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.Arn;
    if (arn) return arn;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'NotFoundException')) throw error;
  }
  const created = await kms.send(
    new CreateKeyCommand({
      Description: description,
      Tags: [{ TagKey: 'app', TagValue: 'strongroom' }],
      ...spec,
    }),
  );
  const { Arn, KeyId } = created.KeyMetadata ?? {};
  if (!Arn || !KeyId) throw new Error(`the emulator created no key for ${alias}`);
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyId }));
  return Arn;
}
