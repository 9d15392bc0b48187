import { Annotations, Lazy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV_VARS } from '../../shared/aws/config.js';
import {
  OIDC_CLIENT_SECRET_CONTEXT,
  STORE_KEY_PAIR_PURPOSE,
  TENANT_EXPORT_KEY_ACTIONS,
  TENANT_KEY_USE_ACTIONS,
} from '../../shared/domain/key-policy.js';
import { serviceHost } from '../../shared/domain/partitions.js';
import { dnsSuffixOf } from './dns-suffix.js';
import type { StrongroomFunction } from './strongroom-function.js';

export interface TenantKeysProps {
  stage: string;
}

/**
 * The per-tenant KMS keys that tenant creation makes at run time (shared/crypto/tenant-keys.ts). They do not
 * exist at deploy time, so this construct holds no resource: it is the grants on them. Statements match the
 * keys by the `strongroom:stage` tag every tenant key carries (shared/domain/key-policy.ts `tenantKeyTags`);
 * each key's own policy then narrows use to the tenant's encryption context and to the roles granted use
 * here, which a provisioning function is told (TENANT_KEY_USER_ROLE_ARNS).
 */
export class TenantKeys extends Construct {
  readonly #users: iam.IRole[] = [];
  readonly #oidcSecretEncryptors: iam.IRole[] = [];
  readonly #oidcSecretDecryptors: iam.IRole[] = [];
  readonly #storeKeyPairUsers: iam.IRole[] = [];
  readonly #stage: string;

  constructor(scope: Construct, id: string, props: TenantKeysProps) {
    super(scope, id);
    this.#stage = props.stage;
  }

  /**
   * ARNs of the roles granted use, comma-separated, as they stand when the app is synthesised: areas may be
   * granted use after the provisioning function is.
   */
  #userRoleArns(): string {
    return Lazy.string({
      produce: () => {
        if (this.#users.length === 0) {
          Annotations.of(this).addWarningV2(
            'strongroom:noTenantKeyUser',
            'No function uses tenant keys yet (TenantKeys.grantUse); tenant key creation will refuse to start until one does.',
          );
        }
        return this.#users.map((role) => role.roleArn).join(',');
      },
    });
  }

  /** ARNs of `roles`, comma-separated, as they stand when the app is synthesised. */
  #lazyArns(roles: readonly iam.IRole[]): string {
    return Lazy.string({ produce: () => roles.map((role) => role.roleArn).join(',') });
  }

  /**
   * The roles that encrypt and decrypt tenant IdP client secrets, for key policies CDK writes itself. Read
   * it once every area's grants have run.
   */
  get oidcClientSecretRoles(): { encrypt: readonly iam.IRole[]; decrypt: readonly iam.IRole[] } {
    return { encrypt: [...this.#oidcSecretEncryptors], decrypt: [...this.#oidcSecretDecryptors] };
  }

  /**
   * A tenant IdP's client secret: `encryptor` may make its ciphertext (GenerateDataKey) and `decryptor` read
   * it (Decrypt) with this stage's tenant keys, only for ciphertexts whose context says `purpose:
   * oidc-client-secret`; each key policy adds the tenant and the record (`OidcClientSecretEncrypt` /
   * `OidcClientSecretDecrypt`). New tenant keys name the two roles (TENANT_OIDC_SECRET_*_ROLE_ARNS).
   */
  grantOidcClientSecret(side: 'encrypt' | 'decrypt', role: iam.IRole): void {
    const list = side === 'encrypt' ? this.#oidcSecretEncryptors : this.#oidcSecretDecryptors;
    if (!list.includes(role)) list.push(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: side === 'encrypt' ? 'EncryptTenantOidcSecrets' : 'DecryptTenantOidcSecrets',
        actions: [side === 'encrypt' ? 'kms:GenerateDataKey' : 'kms:Decrypt'],
        resources: [this.#keyArns()],
        conditions: {
          StringEquals: {
            'aws:ResourceTag/strongroom:stage': this.#stage,
            'kms:EncryptionContext:purpose': OIDC_CLIENT_SECRET_CONTEXT.purpose,
            'kms:EncryptionContext:recordId': OIDC_CLIENT_SECRET_CONTEXT.recordId,
          },
        },
      }),
    );
    acknowledgeKeyWildcard(role, this.#nagArn('key/*'), `${side} tenant IdP client secrets with`);
  }

  /** The roles that encrypt and decrypt S3-compatible stores' key pairs; read once every grant has run. */
  get storeKeyPairRoles(): readonly iam.IRole[] {
    return [...this.#storeKeyPairUsers];
  }

  /**
   * The key pairs of S3-compatible stores (external locations at a store's own endpoint): `role` may make
   * (GenerateDataKey) and read (Decrypt) their ciphertexts with this stage's tenant keys, only for contexts
   * whose purpose is `storage-store-key`; each key policy adds the tenant (`StoreKeyPairUse`). New tenant keys
   * name the role (TENANT_STORE_KEY_ROLE_ARNS).
   */
  grantStoreKeyPairs(role: iam.IRole): void {
    if (!this.#storeKeyPairUsers.includes(role)) this.#storeKeyPairUsers.push(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TenantStoreKeyPairs',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.#keyArns()],
        conditions: {
          StringEquals: {
            'aws:ResourceTag/strongroom:stage': this.#stage,
            'kms:EncryptionContext:purpose': STORE_KEY_PAIR_PURPOSE,
          },
        },
      }),
    );
    acknowledgeKeyWildcard(
      role,
      this.#nagArn('key/*'),
      'encrypt and decrypt S3-compatible store key pairs with',
    );
  }

  /**
   * The roles granted use so far, for key policies CDK writes itself (pre-provisioned tenant keys,
   * infra/stacks/tenant-keys-stack.ts). Read it once every area's grants have run: the list is not lazy.
   */
  get userRoles(): readonly iam.IRole[] {
    return [...this.#users];
  }

  /** Encrypt and decrypt with any tenant key of this stage (the key policy adds the tenant condition). */
  grantUse(role: iam.IRole): void {
    if (!this.#users.includes(role)) this.#users.push(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseTenantKeys',
        actions: [...TENANT_KEY_USE_ACTIONS],
        resources: [this.#keyArns()],
        conditions: { StringEquals: { 'aws:ResourceTag/strongroom:stage': this.#stage } },
      }),
    );
    acknowledgeKeyWildcard(role, this.#nagArn('key/*'), 'use');
  }

  /**
   * Create (tagged, rotating, aliased), inspect and retire tenant keys of this stage; never use them. The
   * function learns which roles the key policies it writes must admit (TENANT_KEY_USER_ROLE_ARNS).
   */
  grantProvision(fn: StrongroomFunction): void {
    const stage = this.#stage;
    const { role } = fn;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CreateTenantKeys',
        // CreateKey names no existing resource; the request must carry exactly the tenant-key tags.
        actions: ['kms:CreateKey', 'kms:TagResource'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:RequestTag/strongroom:stage': stage },
          'ForAllValues:StringEquals': { 'aws:TagKeys': ['tenantId', 'strongroom:stage'] },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ManageTenantKeys',
        actions: [
          'kms:CreateAlias',
          'kms:EnableKeyRotation',
          'kms:DescribeKey',
          'kms:ListResourceTags',
          'kms:DisableKey',
          'kms:ScheduleKeyDeletion',
        ],
        resources: [this.#keyArns()],
        conditions: { StringEquals: { 'aws:ResourceTag/strongroom:stage': stage } },
      }),
    );
    // The alias half of CreateAlias: only names under this stage's tenant prefix.
    const aliases = Stack.of(this).formatArn({
      service: 'kms',
      resource: 'alias',
      resourceName: `strongroom/${stage}/tenant/*`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TenantKeyAliases',
        actions: ['kms:CreateAlias'],
        resources: [aliases],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'kms:CreateKey and the kms:TagResource it implies for tags have no resource until the key exists; the statement requires the request to carry exactly the tenant-key tags of this stage.',
    });
    acknowledgeKeyWildcard(role, this.#nagArn('key/*'), 'manage');
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${this.#nagArn(`alias/strongroom/${stage}/tenant/*`)}]`,
      reason:
        "Aliases are created per tenant at run time; the pattern admits only this stage's tenant aliases.",
    });
    fn.function.addEnvironment(ENV_VARS.tenantKeyUserRoleArns, this.#userRoleArns());
    fn.function.addEnvironment(
      ENV_VARS.tenantOidcSecretEncryptRoleArns,
      this.#lazyArns(this.#oidcSecretEncryptors),
    );
    fn.function.addEnvironment(
      ENV_VARS.tenantOidcSecretDecryptRoleArns,
      this.#lazyArns(this.#oidcSecretDecryptors),
    );
    fn.function.addEnvironment(ENV_VARS.tenantStoreKeyRoleArns, this.#lazyArns(this.#storeKeyPairUsers));
  }

  /**
   * Lets S3 use this stage's tenant keys on the role's behalf for export archives (SSE-KMS writes and the
   * reads behind presigned downloads): GenerateDataKey and Decrypt only through S3 in this region. Each key
   * policy (`ExportArchivesViaS3`) further narrows it to the tenant's own prefix in the export bucket; the
   * role cannot use tenant keys directly. New tenant keys name the function's role as the archive writer
   * (TENANT_EXPORT_ROLE_ARNS).
   */
  grantExportArchives(fn: StrongroomFunction): void {
    const { role } = fn;
    fn.function.addEnvironment(ENV_VARS.tenantExportRoleArns, role.roleArn);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ExportArchivesWithTenantKeys',
        actions: [...TENANT_EXPORT_KEY_ACTIONS],
        resources: [this.#keyArns()],
        conditions: {
          StringEquals: {
            'aws:ResourceTag/strongroom:stage': this.#stage,
            'kms:ViaService': serviceHost('s3', Stack.of(this).region, dnsSuffixOf(this)),
          },
        },
      }),
    );
    acknowledgeKeyWildcard(role, this.#nagArn('key/*'), 'use through S3 for export archives');
  }

  /** A KMS ARN as cdk-nag spells it in finding ids (unresolved parts as `<AWS::…>`). */
  #nagArn(resource: string): string {
    const stack = Stack.of(this);
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    return `arn:<AWS::Partition>:kms:${region}:${account}:${resource}`;
  }

  #keyArns(): string {
    return Stack.of(this).formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  }
}

function acknowledgeKeyWildcard(role: iam.IRole, nagKeyArns: string, what: string): void {
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagKeyArns}]`,
    reason: `Tenant keys are created at run time, so their ids are unknown at deploy time; the statement to ${what} them is limited by the aws:ResourceTag/strongroom:stage condition, and each key policy limits use to its tenant's encryption context.`,
  });
}
