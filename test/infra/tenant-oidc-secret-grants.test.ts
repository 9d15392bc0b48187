import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../../shared/aws/config.js';
import { tenantKeyPolicy } from '../../shared/domain/key-policy.js';
import { AREAS } from '../../shared/http/route.js';
import { ACCOUNT, functionPrincipal, type Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

/**
 * A tenant's own IdP client secret (issue 16): the tenants function encrypts it under the tenant's key and
 * the auth function decrypts it, each that one KMS action and only for that secret of that tenant. Judged
 * with the IAM policy simulator on each function role's synthesised KMS statements (made concrete) together
 * with the tenant key's policy as tenant creation writes it (the roles it names, as the stack wires them).
 */
const REGION = 'eu-central-1';
const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';
const OTHER_TENANT = 't_01jabcdefghjkmnpqrstvwxyz1';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const roleArn = (area: string) => `arn:aws:iam::${ACCOUNT}:role/strongroom-${area}`;

let synth: Synthesised;
let template: Template;
const statements = new Map<string, Statement[]>();

/** CloudFormation pseudo parameters in a statement made concrete; other references never match. */
function concrete(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(concrete);
  const object = value as Record<string, unknown>;
  if (object.Ref === 'AWS::Partition') return 'aws';
  if (object.Ref === 'AWS::AccountId') return ACCOUNT;
  if (object.Ref === 'AWS::Region') return REGION;
  const join = object['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(concrete).join(join[0]);
  if (Object.keys(object).some((k) => k.startsWith('Fn::') || k === 'Ref'))
    return `arn:aws:unresolved:::${JSON.stringify(value)}`;
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, concrete(v)]));
}

beforeAll(() => {
  synth = synthStrongroom([REGION]);
  const stack = synth.stacks[0]!.stateless;
  template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  for (const area of AREAS) {
    const role = JSON.stringify(stack.resolve(stack.functions[area].role.roleName));
    statements.set(
      area,
      policies
        .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:') || a === '*'))
        .map((s) => concrete(s) as Statement),
    );
  }
}, 180_000);
afterAll(() => synth?.cleanup());

/** The tenant key's policy as tenant creation writes it in this deployment (connections and query use it). */
const keyPolicy = () =>
  createValidatedPolicy(
    tenantKeyPolicy({
      accountId: ACCOUNT,
      partition: 'aws',
      tenantId: TENANT,
      applicationRoleArns: [roleArn('connections'), roleArn('query')],
      adminRoleArns: [],
      oidcClientSecret: { encryptRoleArns: [roleArn('tenants')], decryptRoleArns: [roleArn('auth')] },
      storeKeyPairs: { roleArns: [roleArn('storage')] },
    }),
    validateResourcePolicy,
    { name: 'key-policy' },
  );

const secretContext = (overrides: Record<string, string> = {}) => {
  const context = { tenantId: TENANT, purpose: 'oidc-client-secret', recordId: 'sso', ...overrides };
  return {
    ...Object.fromEntries(Object.entries(context).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
    'kms:EncryptionContextKeys': Object.keys(context),
  };
};

/** One request by an area's function on the tenant's key (tagged with this stage), through both policies. */
function decide(area: string, action: string, context: Record<string, string | string[]>): string {
  const simulation: Simulation = {
    identityPolicies: [
      { name: 'role', policy: { Version: '2012-10-17', Statement: statements.get(area) ?? [] } },
    ],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: keyPolicy() as never,
    request: {
      principal: functionPrincipal(area),
      action,
      resource: { resource: KEY_ARN, accountId: ACCOUNT },
      contextVariables: {
        'aws:PrincipalArn': roleArn(area),
        'aws:ResourceTag/strongroom:stage': TEST_STAGE,
        ...context,
      },
    },
  };
  // The unchecked engine: the validating one drops `kms:EncryptionContext:<key>` (see key-policy.test.ts).
  return runUnsafeSimulation(simulation, {});
}

describe('tenant IdP client secrets under tenant keys', () => {
  it('lets the auth function decrypt the secret, and the tenants function encrypt it', () => {
    // Act / Assess
    expect(decide('auth', 'kms:Decrypt', secretContext())).toBe('Allowed');
    expect(decide('tenants', 'kms:GenerateDataKey', secretContext())).toBe('Allowed');
  });

  it('refuses another purpose, another record, another tenant, and the other actions', () => {
    // Prepare
    const wrong = [
      secretContext({ purpose: 'connection-password' }),
      secretContext({ recordId: 'c_1' }),
      secretContext({ tenantId: OTHER_TENANT }),
      secretContext({ extra: 'x' }),
      {},
    ];

    // Act / Assess: the right action with a wrong context
    for (const context of wrong) {
      expect(decide('auth', 'kms:Decrypt', context), JSON.stringify(context)).not.toBe('Allowed');
      expect(decide('tenants', 'kms:GenerateDataKey', context), JSON.stringify(context)).not.toBe('Allowed');
    }
    // Act / Assess: the other actions, with the secret's own context
    for (const action of ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant'])
      expect(decide('auth', action, secretContext()), `auth ${action}`).not.toBe('Allowed');
    for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom'])
      expect(decide('tenants', action, secretContext()), `tenants ${action}`).not.toBe('Allowed');
  });

  it('gives no other function the secret, and no new use of connection passwords to these two', () => {
    // Act / Assess: every other function, both actions
    for (const area of AREAS.filter((a) => !['auth', 'tenants'].includes(a))) {
      if (['connections', 'query'].includes(area)) continue; // tenant-key users: TenantScopedUse, as before
      expect(decide(area, 'kms:Decrypt', secretContext()), area).not.toBe('Allowed');
      expect(decide(area, 'kms:GenerateDataKey', secretContext()), area).not.toBe('Allowed');
    }
    // Act / Assess: connection passwords stay out of reach of the auth and tenants functions
    const password = secretContext({ purpose: 'connection-password', recordId: 'c_1' });
    for (const area of ['auth', 'tenants'])
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt'])
        expect(decide(area, action, password), `${area} ${action}`).not.toBe('Allowed');
  });

  it('names the two roles to tenant creation (the policies it writes)', () => {
    // Prepare
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    const stack = synth.stacks[0]!.stateless;
    const refOf = (area: string) =>
      (stack.resolve(stack.functions[area as keyof typeof stack.functions].role.roleName) as { Ref: string })
        .Ref;

    // Act
    const provisioner = functions.find(
      (f) => f.Properties.Environment.Variables[ENV_VARS.tenantKeyUserRoleArns],
    );
    const encrypt = JSON.stringify(
      provisioner!.Properties.Environment.Variables[ENV_VARS.tenantOidcSecretEncryptRoleArns],
    );
    const decrypt = JSON.stringify(
      provisioner!.Properties.Environment.Variables[ENV_VARS.tenantOidcSecretDecryptRoleArns],
    );

    // Assess
    expect(encrypt).toContain(refOf('tenants'));
    expect(encrypt).not.toContain(refOf('auth'));
    expect(decrypt).toContain(refOf('auth'));
    expect(decrypt).not.toContain(refOf('tenants'));
  });
});

describe('S3-compatible store key pairs under tenant keys', () => {
  const pairContext = (overrides: Record<string, string> = {}) =>
    secretContext({ purpose: 'storage-store-key', recordId: 'l_01jq0000000000000000000000', ...overrides });

  it('lets the storage function encrypt and decrypt a key pair of a location, nothing else', () => {
    // Act / Assess: the Encryption SDK's two calls
    expect(decide('storage', 'kms:GenerateDataKey', pairContext())).toBe('Allowed');
    expect(decide('storage', 'kms:Decrypt', pairContext())).toBe('Allowed');
    // Act / Assess: a wrong context, and the other actions
    for (const context of [
      pairContext({ purpose: 'connection-password' }),
      secretContext(),
      pairContext({ recordId: 'c_1' }),
      pairContext({ tenantId: OTHER_TENANT }),
      pairContext({ extra: 'x' }),
      {},
    ]) {
      expect(decide('storage', 'kms:Decrypt', context), JSON.stringify(context)).not.toBe('Allowed');
      expect(decide('storage', 'kms:GenerateDataKey', context), JSON.stringify(context)).not.toBe('Allowed');
    }
    for (const action of ['kms:Encrypt', 'kms:ReEncryptFrom', 'kms:CreateGrant'])
      expect(decide('storage', action, pairContext()), action).not.toBe('Allowed');
  });

  it('gives no other function the key pairs (the tenant-key users aside)', () => {
    // Act / Assess
    for (const area of AREAS.filter((a) => !['storage', 'connections', 'query'].includes(a))) {
      expect(decide(area, 'kms:Decrypt', pairContext()), area).not.toBe('Allowed');
      expect(decide(area, 'kms:GenerateDataKey', pairContext()), area).not.toBe('Allowed');
    }
  });

  it('names the storage role to tenant creation (TENANT_STORE_KEY_ROLE_ARNS)', () => {
    // Prepare
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    const stack = synth.stacks[0]!.stateless;
    const storageRole = (stack.resolve(stack.functions.storage.role.roleName) as { Ref: string }).Ref;

    // Act
    const provisioner = functions.find(
      (f) => f.Properties.Environment.Variables[ENV_VARS.tenantKeyUserRoleArns],
    );
    const named = JSON.stringify(
      provisioner!.Properties.Environment.Variables[ENV_VARS.tenantStoreKeyRoleArns],
    );

    // Assess
    expect(named).toContain(storageRole);
    expect(named).not.toContain(
      (stack.resolve(stack.functions.connections.role.roleName) as { Ref: string }).Ref,
    );
  });
});
