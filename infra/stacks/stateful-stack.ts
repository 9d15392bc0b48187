import { Duration, RemovalPolicy, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { auditMacKeyAlias, auditMacSealersOnlyStatement } from '../../shared/domain/audit-mac-key.js';
import { tenantKeyTags } from '../../shared/domain/key-policy.js';
import { managedBucketPolicyStatements } from '../../shared/domain/storage-policy.js';
import {
  tenantStorageBoundaryName,
  tenantStorageBoundaryPolicy,
  tenantStorageRolePath,
} from '../../shared/domain/tenant-storage-role.js';
import { TABLES, type TableDef } from '../../shared/store/tables.js';
import { dnsSuffixOf } from '../constructs/dns-suffix.js';

export interface StatefulStackProps extends StackProps {
  /** Deployment stage (`dev`, `prod`, …): names the platform key alias. */
  stage: string;
}

/** The data-bearing resources the stateless stack and its functions use. */
export interface StatefulResources {
  platformKey: kms.IKey;
  /**
   * The managed storage bucket's own key. Vended storage sessions may use it through S3; they must never be
   * able to use the platform key, which protects the tables and platform secrets.
   */
  storageKey: kms.IKey;
  /**
   * The HMAC key that authenticates audit chain heads and checkpoints. Only roles tagged as audit sealers
   * may generate MACs with it (its key policy); verifiers may be granted kms:VerifyMac.
   */
  auditMacKey: kms.IKey;
  tables: Record<TableDef['id'], dynamodb.ITable>;
  storageBucket: s3.IBucket;
  exportBucket: s3.IBucket;
  /** The permissions boundary of every tenant storage role (made at run time, so it must outlive deployments). */
  tenantStorageBoundaryArn: string;
}

/**
 * Logical IDs of the stateful resources. They are pinned (not derived from the construct path) so that a
 * refactoring of this file can never make CloudFormation replace a table, key, bucket or vault — which
 * would lose data. test/infra asserts this list.
 */
export const STATEFUL_LOGICAL_IDS = {
  platformKey: 'PlatformKey',
  platformKeyAlias: 'PlatformKeyAlias',
  storageKey: 'StorageKey',
  storageKeyAlias: 'StorageKeyAlias',
  auditMacKey: 'AuditMacKey',
  auditMacKeyAlias: 'AuditMacKeyAlias',
  tables: {
    identity: 'IdentityTable',
    tenantData: 'TenantDataTable',
    audit: 'AuditTable',
    auditChain: 'AuditChainTable',
  },
  accessLogsBucket: 'AccessLogsBucket',
  storageBucket: 'StorageBucket',
  exportBucket: 'ExportBucket',
  backupVault: 'BackupVault',
  tenantStorageBoundary: 'TenantStorageBoundary',
} as const;

/** Days AWS Backup keeps each daily recovery point (DESIGN.md §5). */
export const BACKUP_RETENTION_DAYS = 35;

/**
 * Tables, the platform and storage KMS keys, the buckets and the backup plan of one region: everything that holds data.
 * Termination protection and RETAIN everywhere; deploy it rarely and never replace it.
 */
export class StatefulStack extends Stack {
  readonly resources: StatefulResources;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    const ids = STATEFUL_LOGICAL_IDS;

    const platformKey = new kms.Key(this, 'PlatformKey', {
      description: `Strongroom ${props.stage} platform key: tables, buckets, backups, platform secrets`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(platformKey, ids.platformKey);
    const alias = platformKey.addAlias(`alias/strongroom/${props.stage}/platform`);
    pin(alias, ids.platformKeyAlias);

    // The managed storage bucket gets a key of its own: vended credentials need kms:Decrypt and
    // kms:GenerateDataKey on the bucket's key, and must never hold them on the platform key.
    const storageKey = new kms.Key(this, 'StorageKey', {
      description: `Strongroom ${props.stage} storage key: objects of managed storage locations only`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(storageKey, ids.storageKey);
    const storageAlias = storageKey.addAlias(`alias/strongroom/${props.stage}/storage`);
    pin(storageAlias, ids.storageKeyAlias);
    // The audit MAC key (shared/domain/audit-mac-key.ts): whoever can write the audit tables can recompute
    // SHA-256 chain hashes, but not this key's MACs. HMAC keys cannot be rotated by KMS (a new key would need
    // a new alias and a verifier that knows both), and never leave it.
    const auditMacKey = new kms.Key(this, 'AuditMacKey', {
      description: `Strongroom ${props.stage} audit MAC key: authenticates audit chain heads and checkpoints`,
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(auditMacKey, ids.auditMacKey);
    auditMacKey.addToResourcePolicy(iam.PolicyStatement.fromJson(auditMacSealersOnlyStatement(props.stage)));
    const auditMacAlias = auditMacKey.addAlias(auditMacKeyAlias(props.stage));
    pin(auditMacAlias, ids.auditMacKeyAlias);

    // Function roles reach tenant keys by their tags (strongroom:stage), and tenant creation may tag keys
    // with exactly those tags; without this, a role that may tag keys could make the platform, storage or
    // audit MAC key look like a tenant key, and so usable, disable-able and deletable by the tenant-key
    // statements.
    for (const key of [platformKey, storageKey, auditMacKey]) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'NeverATenantKey',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:TagResource'],
          resources: ['*'],
          conditions: {
            'ForAnyValue:StringEqualsIgnoreCase': {
              'aws:TagKeys': tenantKeyTags(props.stage, '').map((tag) => tag.key),
            },
          },
        }),
      );
    }

    const tables = {} as Record<TableDef['id'], dynamodb.ITable>;
    for (const def of TABLES) {
      const table = new dynamodb.Table(this, ids.tables[def.id], {
        partitionKey: { name: def.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: def.sortKey, type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: platformKey,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        timeToLiveAttribute: def.ttlAttribute,
        ...(def.stream === 'NONE' ? {} : { stream: dynamodb.StreamViewType[def.stream] }),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      for (const index of def.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
          sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      pin(table, ids.tables[def.id]);
      tables[def.id] = table;
    }

    // Server access logs cannot be delivered to a bucket encrypted with SSE-KMS, so this one bucket uses
    // SSE-S3; it holds request metadata, not tenant data.
    const accessLogsBucket = new s3.Bucket(this, ids.accessLogsBucket, {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(accessLogsBucket, ids.accessLogsBucket);
    Validations.of(accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log target of the other buckets; logging it into itself would log its own log deliveries forever.',
    });

    const dataBucket = (
      id: string,
      logPrefix: string,
      encryptionKey: kms.IKey,
      extra: Partial<s3.BucketProps> = {},
    ) => {
      const bucket = new s3.Bucket(this, id, {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey,
        // One data key per bucket and period instead of one KMS call per object.
        bucketKeyEnabled: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        versioned: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        serverAccessLogsBucket: accessLogsBucket,
        serverAccessLogsPrefix: logPrefix,
        removalPolicy: RemovalPolicy.RETAIN,
        ...extra,
      });
      pin(bucket, id);
      return bucket;
    };
    // Managed storage locations: `tenants/<tenantId>/<locationId>/…`, reached only with vended credentials.
    // Their objects are written under each tenant's own key (the vended session demands it), and a tenant
    // key's policy refuses a Bucket Key (bound to the bucket ARN, not the tenant's prefix): so Bucket Keys are
    // off here, and a client that sends no bucket-key header gets what the key policy allows.
    const storageBucket = dataBucket(ids.storageBucket, 'storage/', storageKey, {
      bucketKeyEnabled: false,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    // Defence in depth, beside the session policy: no object is created under `tenants/` with another
    // encryption type, `aws:kms` without a key, SSE-C or the bucket's own key named (the session policy also
    // holds the tenant's key; a write naming nothing falls to the storage key, on which no vended session may
    // have S3 generate a data key). Only vended sessions write here (the purge deletes, the export writes to
    // its own bucket). The same statements are the local emulator's managed bucket policy (infra/local).
    for (const statement of managedBucketPolicyStatements(storageBucket.bucketArn, storageKey.keyArn))
      storageBucket.addToResourcePolicy(iam.PolicyStatement.fromJson(statement));
    // Tenant export archives are fetched through short-lived presigned URLs; nothing needs them for long.
    const exportBucket = dataBucket(ids.exportBucket, 'exports/', platformKey, {
      lifecycleRules: [
        {
          expiration: Duration.days(7),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    const vault = new backup.BackupVault(this, ids.backupVault, {
      encryptionKey: platformKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(vault, ids.backupVault);
    const plan = new backup.BackupPlan(this, 'BackupPlan', { backupVault: vault });
    plan.addRule(
      new backup.BackupPlanRule({
        ruleName: 'Daily',
        scheduleExpression: events.Schedule.cron({ minute: '0', hour: '3' }),
        startWindow: Duration.hours(1),
        completionWindow: Duration.hours(4),
        deleteAfter: Duration.days(BACKUP_RETENTION_DAYS),
      }),
    );
    const selection = plan.addSelection('Tables', {
      resources: Object.values(tables).map((table) => backup.BackupResource.fromDynamoDbTable(table)),
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        'AWS Backup assumes this role only to back up the selected tables; the AWS-managed service policy is the documented, maintained policy for that.',
    });

    // Every tenant storage role (made at run time by the storage function) carries this boundary: sessions
    // reach only their own tenant's prefix of the storage bucket and its key only through S3, whatever the
    // role's own policies say. Roles keep referring to it, so it has a fixed name and is retained.
    const tenantStorageBoundary = new iam.CfnManagedPolicy(this, ids.tenantStorageBoundary, {
      managedPolicyName: tenantStorageBoundaryName(props.stage, this.region),
      description: `Strongroom ${props.stage}: upper bound of every tenant storage role`,
      policyDocument: tenantStorageBoundaryPolicy({
        bucketArn: storageBucket.bucketArn,
        storageKeyArn: storageKey.keyArn,
        // The key ARN is a token here; S3 calls KMS from the bucket's (this stack's) region.
        region: this.region,
        keysArnPattern: `arn:${this.partition}:kms:${this.region}:${this.account}:key/*`,
        dnsSuffix: dnsSuffixOf(this),
        layout: {
          partition: this.partition,
          accountId: this.account,
          rolePath: tenantStorageRolePath(props.stage, this.region),
        },
      }),
    });
    tenantStorageBoundary.applyRemovalPolicy(RemovalPolicy.RETAIN);
    tenantStorageBoundary.overrideLogicalId(ids.tenantStorageBoundary);
    Validations.of(tenantStorageBoundary).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${ids.storageBucket}.Arn>/tenants/<aws:PrincipalTag/TenantId>/*]`,
      reason:
        'The boundary of every tenant storage role: each session reaches only objects under tenants/<its TenantId session tag>/, and the tag must name the role’s own tenant (DenyOtherTenantsRoles).',
    });
    Validations.of(tenantStorageBoundary).acknowledge({
      // The account as the finding names it: a token in an environment-agnostic stack, else the account id.
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${this.region}:${Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account}:key/*]`,
      reason:
        'Tenant keys are made at run time, one per tenant: the boundary admits only the key whose tenantId tag equals the session’s TenantId tag, only through S3 of this region (kms:ViaService), and each key’s own policy (ManagedObjectsViaS3) admits only that tenant’s storage role for objects under its prefix.',
    });

    this.resources = {
      platformKey,
      storageKey,
      auditMacKey,
      tables,
      storageBucket,
      exportBucket,
      tenantStorageBoundaryArn: tenantStorageBoundary.ref,
    };
  }
}

/** Fixes a resource's CloudFormation logical ID independently of where it sits in the construct tree. */
function pin(construct: Construct, logicalId: string): void {
  const resource = construct.node.defaultChild as { overrideLogicalId(id: string): void } | undefined;
  if (!resource) throw new Error(`${construct.node.path} has no CloudFormation resource to pin`);
  resource.overrideLogicalId(logicalId);
}
