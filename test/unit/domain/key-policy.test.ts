import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import {
  KeyPolicyInputError,
  TENANT_KEY_ADMIN_ACTIONS,
  type TenantKeyPolicyInput,
  tenantKeyAlias,
  tenantKeyPolicy,
} from '../../../shared/domain/key-policy.js';
import {
  ACCOUNT,
  CONNECTIONS_ROLE,
  KEY_ARN,
  OTHER_ROLE,
  OTHER_TENANT,
  TENANT,
} from '../../support/key-policy-ids.js';

const QUERY_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-query`;
const ADMIN_ROLE = `arn:aws:iam::${ACCOUNT}:role/key-admin`;

const input = {
  accountId: ACCOUNT,
  partition: 'aws',
  tenantId: TENANT,
  applicationRoleArns: [QUERY_ROLE, CONNECTIONS_ROLE],
  adminRoleArns: [ADMIN_ROLE],
};

/** An identity policy as generous as a misconfigured role could be: the key policy alone must hold. */
const KMS_EVERYTHING = {
  name: 'kms-everything',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
};

/** The key policy, syntax-checked as a resource policy (and named, which the unchecked engine needs). */
function keyPolicy(policyInput: TenantKeyPolicyInput = input) {
  const validated = createValidatedPolicy(tenantKeyPolicy(policyInput), validateResourcePolicy, {
    name: 'key-policy',
  });
  expect(validated.errors).toEqual([]);
  return validated;
}

function simulate(options: {
  principal: string;
  action: string;
  context?: Record<string, string | string[]>;
  identityAllows?: boolean;
  policyInput?: TenantKeyPolicyInput;
}): string {
  const simulation: Simulation = {
    identityPolicies: options.identityAllows === false ? [] : [KMS_EVERYTHING],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: keyPolicy(options.policyInput) as never,
    request: {
      principal: options.principal,
      action: options.action,
      resource: { resource: KEY_ARN, accountId: ACCOUNT },
      contextVariables: { 'aws:PrincipalArn': options.principal, ...options.context },
    },
  };
  // The validating engine drops `kms:EncryptionContext:<key>` (it matches only `/`-style variable keys
  // such as `aws:PrincipalTag/X`), which would make every context condition fail; the unchecked engine
  // evaluates the policy as written, with the context values given here.
  const result = runUnsafeSimulation(simulation, {});
  return result;
}

const ownContext = {
  'kms:EncryptionContext:tenantId': TENANT,
  'kms:EncryptionContext:purpose': 'connection-password',
  'kms:EncryptionContext:recordId': 'c_1',
  'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId'],
};

describe('tenantKeyPolicy', () => {
  it('lets application roles use the key only with their tenant in the encryption context', async () => {
    // Act / Assess: each application role with its tenant in the context; another tenant, no keys, none
    for (const role of [CONNECTIONS_ROLE, QUERY_ROLE]) {
      for (const action of ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']) {
        expect(simulate({ principal: role, action, context: ownContext })).toBe('Allowed');
        expect(
          simulate({
            principal: role,
            action,
            context: { ...ownContext, 'kms:EncryptionContext:tenantId': OTHER_TENANT },
          }),
        ).not.toBe('Allowed');
        expect(simulate({ principal: role, action, context: { 'kms:EncryptionContextKeys': [] } })).not.toBe(
          'Allowed',
        );
        expect(simulate({ principal: role, action })).not.toBe('Allowed');
      }
    }
  });

  it('refuses extra encryption-context keys and usage without an identity policy', async () => {
    // Act / Assess: a key beyond the three named ones
    expect(
      simulate({
        principal: CONNECTIONS_ROLE,
        action: 'kms:Decrypt',
        context: {
          ...ownContext,
          'kms:EncryptionContext:aws-crypto-public-key': 'x',
          'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId', 'aws-crypto-public-key'],
        },
      }),
    ).not.toBe('Allowed');

    // Act / Assess: use is delegated to IAM: the role's own policy must allow it too (granted by infra).
    expect(
      simulate({
        principal: CONNECTIONS_ROLE,
        action: 'kms:Decrypt',
        context: ownContext,
        identityAllows: false,
      }),
    ).not.toBe('Allowed');
  });

  it('never lets administrators, other roles or the account use the key on data', async () => {
    // Act / Assess
    for (const principal of [ADMIN_ROLE, OTHER_ROLE, `arn:aws:iam::${ACCOUNT}:root`]) {
      for (const action of [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'kms:ReEncryptFrom',
        'kms:CreateGrant',
      ]) {
        expect(simulate({ principal, action, context: ownContext })).not.toBe('Allowed');
      }
    }

    // Act / Assess: an application role, actions beyond its three
    for (const action of [
      'kms:ReEncryptFrom',
      'kms:CreateGrant',
      'kms:DisableKeyRotation',
      'kms:GenerateDataKeyPair',
    ]) {
      expect(simulate({ principal: CONNECTIONS_ROLE, action, context: ownContext })).not.toBe('Allowed');
    }
  });

  it('lets the admin role administer, and IAM in the account administer, but not beyond the admin actions', async () => {
    // Act / Assess
    for (const action of [
      'kms:ScheduleKeyDeletion',
      'kms:DisableKey',
      'kms:PutKeyPolicy',
      'kms:EnableKeyRotation',
    ]) {
      expect(simulate({ principal: ADMIN_ROLE, action, identityAllows: false })).toBe('Allowed');
      // The tenants function holds these through its IAM policy (root delegation).
      expect(simulate({ principal: OTHER_ROLE, action })).toBe('Allowed');
      expect(simulate({ principal: OTHER_ROLE, action, identityAllows: false })).not.toBe('Allowed');
    }
  });

  it('has no wildcard principal, action or disallowed statement', () => {
    // Act
    const policy = tenantKeyPolicy(input);

    // Assess
    expect(policy.Statement.map((s) => s.Sid)).toEqual(['KeyAdministration', 'TenantScopedUse']);
    for (const statement of policy.Statement) {
      const principals = [statement.Principal.AWS].flat();
      expect(principals.every((p) => p.startsWith('arn:aws:iam::111122223333:'))).toBe(true);
      expect(statement.Action.some((a) => a.includes('*'))).toBe(false);
      expect(statement.Effect).toBe('Allow');
    }
    expect(policy.Statement[0]!.Action).toEqual([...TENANT_KEY_ADMIN_ACTIONS]);
    expect(policy.Statement[0]!.Principal.AWS).toEqual([`arn:aws:iam::${ACCOUNT}:root`, ADMIN_ROLE]);
    expect(policy.Statement[1]).toEqual({
      Sid: 'TenantScopedUse',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': [CONNECTIONS_ROLE, QUERY_ROLE] },
        StringEquals: { 'kms:EncryptionContext:tenantId': TENANT },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId'] },
      },
    });
  });

  it('is deterministic whatever the order of the roles', () => {
    // Act
    const a = tenantKeyPolicy(input);
    const b = tenantKeyPolicy({ ...input, applicationRoleArns: [CONNECTIONS_ROLE, QUERY_ROLE, QUERY_ROLE] });

    // Assess: the same JSON, and the account alone as administrator without admin roles
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(tenantKeyPolicy({ ...input, adminRoleArns: [] }).Statement[0]!.Principal.AWS).toBe(
      `arn:aws:iam::${ACCOUNT}:root`,
    );
  });

  it.each([
    ['no tenant', { tenantId: '' }],
    ['a malformed tenant', { tenantId: 't_*' }],
    ['the platform as tenant', { tenantId: 'platform' }],
    ['a bad account', { accountId: '1234' }],
    ['a bad partition', { partition: 'aws*' }],
    ['no application role', { applicationRoleArns: [] }],
    ['a wildcard role', { applicationRoleArns: [`arn:aws:iam::${ACCOUNT}:role/*`] }],
    ['a wildcard principal', { applicationRoleArns: ['*'] }],
    ['a user instead of a role', { applicationRoleArns: [`arn:aws:iam::${ACCOUNT}:user/alice`] }],
    ['another account role', { applicationRoleArns: ['arn:aws:iam::999999999999:role/x'] }],
    ['another partition role', { applicationRoleArns: [`arn:aws-cn:iam::${ACCOUNT}:role/x`] }],
    ['a wildcard admin', { adminRoleArns: [`arn:aws:iam::${ACCOUNT}:role/admin?`] }],
    ['a role both admin and user', { adminRoleArns: [CONNECTIONS_ROLE] }],
  ])('refuses %s', (_name, override) => {
    // Act / Assess
    expect(() => tenantKeyPolicy({ ...input, ...override })).toThrow(KeyPolicyInputError);
  });

  it('skips validation only for values the caller marks unresolved (CDK tokens)', () => {
    // Prepare
    const token = ['$', '{Token[TOKEN.1]}'].join('');

    // Act
    const policy = tenantKeyPolicy(
      { ...input, accountId: token, partition: token, applicationRoleArns: [token] },
      { isUnresolved: (v) => v === token },
    );

    // Assess: the token passes as written; a wildcard beside it is still refused
    expect(policy.Statement[1]!.Condition!.ArnEquals).toEqual({ 'aws:PrincipalArn': [token] });
    expect(() =>
      tenantKeyPolicy({ ...input, applicationRoleArns: ['*'] }, { isUnresolved: (v) => v === token }),
    ).toThrow(KeyPolicyInputError);
  });

  it('names the alias by stage and tenant', () => {
    // Act / Assess
    expect(tenantKeyAlias('dev', TENANT)).toBe(`alias/strongroom/dev/tenant/${TENANT}`);
    expect(() => tenantKeyAlias('dev/../x', TENANT)).toThrow(KeyPolicyInputError);
  });
});

describe('tenantKeyPolicy: the tenant IdP client secret', () => {
  const TENANTS_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-tenants`;
  const AUTH_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-auth`;
  const withSso: TenantKeyPolicyInput = {
    ...input,
    oidcClientSecret: { encryptRoleArns: [TENANTS_ROLE], decryptRoleArns: [AUTH_ROLE] },
  };
  const secretContext = {
    'kms:EncryptionContext:tenantId': TENANT,
    'kms:EncryptionContext:purpose': 'oidc-client-secret',
    'kms:EncryptionContext:recordId': 'sso',
    'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId'],
  };
  const as = (principal: string, action: string, context: Record<string, string | string[]>) =>
    simulate({ principal, action, context, policyInput: withSso });

  it('lets the auth role decrypt only the secret of its tenant, and the tenants role only encrypt it', () => {
    // Act / Assess: the one action each, with exactly the secret's context
    expect(as(AUTH_ROLE, 'kms:Decrypt', secretContext)).toBe('Allowed');
    expect(as(TENANTS_ROLE, 'kms:GenerateDataKey', secretContext)).toBe('Allowed');

    // Act / Assess: the other actions are refused to both, even with an identity policy allowing kms:*
    for (const action of ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant'])
      expect(as(AUTH_ROLE, action, secretContext), `auth ${action}`).not.toBe('Allowed');
    for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom'])
      expect(as(TENANTS_ROLE, action, secretContext), `tenants ${action}`).not.toBe('Allowed');
  });

  it('refuses another purpose, another record, another tenant and extra context keys', () => {
    const cases: Record<string, string | string[]>[] = [
      { ...secretContext, 'kms:EncryptionContext:purpose': 'connection-password' },
      { ...secretContext, 'kms:EncryptionContext:recordId': 'c_1' },
      { ...secretContext, 'kms:EncryptionContext:tenantId': OTHER_TENANT },
      {
        ...secretContext,
        'kms:EncryptionContext:extra': 'x',
        'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId', 'extra'],
      },
      { 'kms:EncryptionContextKeys': [] },
      {},
    ];
    for (const context of cases) {
      // Act / Assess
      expect(as(AUTH_ROLE, 'kms:Decrypt', context), JSON.stringify(context)).not.toBe('Allowed');
      expect(as(TENANTS_ROLE, 'kms:GenerateDataKey', context), JSON.stringify(context)).not.toBe('Allowed');
    }
  });

  it('leaves the application roles as they were and needs the roles’ own IAM policy too', () => {
    // Act / Assess: the connections role still uses the key as before, and also for this context
    expect(as(CONNECTIONS_ROLE, 'kms:Decrypt', ownContext)).toBe('Allowed');
    // Use is delegated to IAM: without the role's own policy, nothing
    expect(
      simulate({
        principal: AUTH_ROLE,
        action: 'kms:Decrypt',
        context: secretContext,
        identityAllows: false,
        policyInput: withSso,
      }),
    ).not.toBe('Allowed');
    // Without the input, the key policy has no such statement: the auth role is refused
    expect(simulate({ principal: AUTH_ROLE, action: 'kms:Decrypt', context: secretContext })).not.toBe(
      'Allowed',
    );
  });

  it('refuses a wildcard role, an admin role among them, or an empty side', () => {
    // Act / Assess
    const build = (oidcClientSecret: TenantKeyPolicyInput['oidcClientSecret']) => () =>
      tenantKeyPolicy({ ...input, oidcClientSecret });
    expect(
      build({ encryptRoleArns: [TENANTS_ROLE], decryptRoleArns: [`arn:aws:iam::${ACCOUNT}:role/*`] }),
    ).toThrow(KeyPolicyInputError);
    expect(build({ encryptRoleArns: [ADMIN_ROLE], decryptRoleArns: [AUTH_ROLE] })).toThrow(
      KeyPolicyInputError,
    );
    expect(build({ encryptRoleArns: [TENANTS_ROLE], decryptRoleArns: [] })).toThrow(KeyPolicyInputError);
  });
});

describe('tenantKeyPolicy: S3-compatible store key pairs', () => {
  const STORAGE_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-dev-storage-function`;
  const withStores: TenantKeyPolicyInput = { ...input, storeKeyPairs: { roleArns: [STORAGE_ROLE] } };
  const pairContext = {
    'kms:EncryptionContext:tenantId': TENANT,
    'kms:EncryptionContext:purpose': 'storage-store-key',
    'kms:EncryptionContext:recordId': 'l_01jq0000000000000000000000',
    'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId'],
  };
  const as = (principal: string, action: string, context: Record<string, string | string[]>) =>
    simulate({ principal, action, context, policyInput: withStores });

  it('lets the storage role encrypt and decrypt a key pair of its tenant, and nothing else', () => {
    // Act / Assess: the Encryption SDK's two calls, with a key pair's context
    expect(as(STORAGE_ROLE, 'kms:GenerateDataKey', pairContext)).toBe('Allowed');
    expect(as(STORAGE_ROLE, 'kms:Decrypt', pairContext)).toBe('Allowed');
    for (const action of ['kms:Encrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant'])
      expect(as(STORAGE_ROLE, action, pairContext), action).not.toBe('Allowed');
  });

  it('refuses another purpose, a record that is not a location, another tenant and extra context keys', () => {
    const cases: Record<string, string | string[]>[] = [
      { ...pairContext, 'kms:EncryptionContext:purpose': 'connection-password' },
      {
        ...pairContext,
        'kms:EncryptionContext:purpose': 'oidc-client-secret',
        'kms:EncryptionContext:recordId': 'sso',
      },
      { ...pairContext, 'kms:EncryptionContext:recordId': 'c_1' },
      { ...pairContext, 'kms:EncryptionContext:tenantId': OTHER_TENANT },
      {
        ...pairContext,
        'kms:EncryptionContext:extra': 'x',
        'kms:EncryptionContextKeys': ['tenantId', 'purpose', 'recordId', 'extra'],
      },
      {},
    ];
    for (const context of cases) {
      // Act / Assess
      expect(as(STORAGE_ROLE, 'kms:Decrypt', context), JSON.stringify(context)).not.toBe('Allowed');
      expect(as(STORAGE_ROLE, 'kms:GenerateDataKey', context), JSON.stringify(context)).not.toBe('Allowed');
    }
  });

  it('needs the role’s own IAM policy and the input, and refuses wildcard, admin or no roles', () => {
    // Act / Assess
    expect(
      simulate({
        principal: STORAGE_ROLE,
        action: 'kms:Decrypt',
        context: pairContext,
        identityAllows: false,
        policyInput: withStores,
      }),
    ).not.toBe('Allowed');
    expect(simulate({ principal: STORAGE_ROLE, action: 'kms:Decrypt', context: pairContext })).not.toBe(
      'Allowed',
    );
    // Other roles are no better off for the statement
    expect(as(OTHER_ROLE, 'kms:Decrypt', pairContext)).not.toBe('Allowed');
    const build = (roleArns: string[]) => () => tenantKeyPolicy({ ...input, storeKeyPairs: { roleArns } });
    expect(build([`arn:aws:iam::${ACCOUNT}:role/*`])).toThrow(KeyPolicyInputError);
    expect(build([ADMIN_ROLE])).toThrow(KeyPolicyInputError);
    expect(build([])).toThrow(KeyPolicyInputError);
  });
});
