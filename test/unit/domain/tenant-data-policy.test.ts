import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_APPEND_ACTIONS,
  AUDIT_CHAIN_READ_ACTIONS,
  TENANT_DATA_ACTIONS,
  tenantDataRolePolicy,
  tenantDataSessionPolicy,
} from '../../../shared/domain/tenant-data-policy.js';
import { DYNAMODB_ITEM_WRITES } from '../../support/iam-simulator.js';

const ACCOUNT = '123456789012';
const TABLE_KEY = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const TABLES = {
  tenantDataTableArn: `arn:aws:dynamodb:eu-central-1:${ACCOUNT}:table/tenant-data`,
  auditTableArn: `arn:aws:dynamodb:eu-central-1:${ACCOUNT}:table/audit`,
  auditChainTableArn: `arn:aws:dynamodb:eu-central-1:${ACCOUNT}:table/audit-chain`,
  tableKeyArn: TABLE_KEY,
};
const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';
const PLATFORM_LOG = 'platform';
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-tenant-data/tenant-data-${T1}`;

/** Simulates a request by T1's scoped session: the role's own policy plus T1's session policy. */
async function decide(
  action: string,
  table: string,
  leadingKeys?: string[],
  context: Record<string, string> = {},
) {
  const response = await runSimulation(
    {
      request: {
        principal: SESSION,
        action,
        resource: { resource: table, accountId: ACCOUNT },
        contextVariables: {
          ...context,
          ...(leadingKeys === undefined ? {} : { 'dynamodb:LeadingKeys': leadingKeys }),
        },
      },
      identityPolicies: [{ name: 'tenant-data', policy: tenantDataRolePolicy(TABLES) }],
      // KMS needs the key policy too: the platform key's lets its account's IAM policies decide (as CDK makes it).
      ...(table.startsWith('arn:aws:kms:')
        ? {
            resourcePolicy: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
                  Action: 'kms:*',
                  Resource: '*',
                },
              ],
            },
          }
        : {}),
      sessionPolicy: tenantDataSessionPolicy(T1, TABLES),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(JSON.stringify(response));
  return response.overallResult;
}

describe('tenant-data session policy (IAM policy simulator)', () => {
  it("allows every item action on the tenant's own partition", async () => {
    // Act / Assess
    for (const action of TENANT_DATA_ACTIONS) {
      expect(await decide(action, TABLES.tenantDataTableArn, [T1]), action).toBe('Allowed');
    }
    for (const action of AUDIT_APPEND_ACTIONS) {
      expect(await decide(action, TABLES.auditTableArn, [T1]), action).toBe('Allowed');
    }
  });

  it("denies another tenant's keys, a mix of keys, and requests without leading keys", async () => {
    // Act / Assess
    for (const action of TENANT_DATA_ACTIONS) {
      expect(await decide(action, TABLES.tenantDataTableArn, [T2]), action).not.toBe('Allowed');
      expect(await decide(action, TABLES.tenantDataTableArn, [T1, T2]), action).not.toBe('Allowed');
      expect(await decide(action, TABLES.tenantDataTableArn), action).not.toBe('Allowed');
    }
  });

  it('denies Scan, and update or delete of audit items, even on the own partition', async () => {
    // Act / Assess
    expect(await decide('dynamodb:Scan', TABLES.tenantDataTableArn, [T1])).not.toBe('Allowed');
    expect(await decide('dynamodb:Scan', TABLES.tenantDataTableArn)).not.toBe('Allowed');
    for (const action of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
      expect(await decide(action, TABLES.auditTableArn, [T1]), action).not.toBe('Allowed');
    }
  });

  it('may use the table key only as DynamoDB does on its behalf, and no other key', async () => {
    // Prepare
    const viaDynamo = { 'kms:ViaService': 'dynamodb.eu-central-1.amazonaws.com' };

    // Act / Assess: via DynamoDB only, this key only, and no key management
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt', 'kms:DescribeKey']) {
      expect(await decide(action, TABLE_KEY, undefined, viaDynamo), action).toBe('Allowed');
      expect(await decide(action, TABLE_KEY), `${action} directly`).not.toBe('Allowed');
      expect(
        await decide(action, TABLE_KEY, undefined, { 'kms:ViaService': 's3.eu-central-1.amazonaws.com' }),
      ).not.toBe('Allowed');
      expect(await decide(action, TABLE_KEY.replace('1234abcd', '9999abcd'), undefined, viaDynamo)).not.toBe(
        'Allowed',
      );
    }
    for (const action of ['kms:CreateGrant', 'kms:ReEncryptFrom', 'kms:ScheduleKeyDeletion']) {
      expect(await decide(action, TABLE_KEY, undefined, viaDynamo), action).not.toBe('Allowed');
    }
  });

  it('may read its own tenant’s audit chain and write nothing there: no chain record, marker, head or checkpoint', async () => {
    // Act / Assess
    for (const action of AUDIT_CHAIN_READ_ACTIONS) {
      expect(await decide(action, TABLES.auditChainTableArn, [T1]), action).toBe('Allowed');
      expect(await decide(action, TABLES.auditChainTableArn, [T2]), action).not.toBe('Allowed');
      expect(await decide(action, TABLES.auditChainTableArn), action).not.toBe('Allowed');
    }
    for (const action of [...DYNAMODB_ITEM_WRITES, 'dynamodb:Scan']) {
      expect(await decide(action, TABLES.auditChainTableArn, [T1]), action).toBe('ImplicitlyDenied');
      expect(await decide(action, TABLES.auditChainTableArn, [PLATFORM_LOG]), action).toBe(
        'ImplicitlyDenied',
      );
    }
    // Events: append (Put) and read only, never update or delete.
    expect(await decide('dynamodb:PutItem', TABLES.auditTableArn, [T1])).toBe('Allowed');
    expect(await decide('dynamodb:PutItem', TABLES.auditTableArn, [PLATFORM_LOG])).not.toBe('Allowed');
  });

  it('refuses to build a policy for something that is not a tenant id', () => {
    // Act / Assess
    expect(() => tenantDataSessionPolicy('*', TABLES)).toThrow();
    expect(() => tenantDataSessionPolicy('', TABLES)).toThrow();
  });
});
