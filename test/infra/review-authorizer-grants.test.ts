import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../support/iam-simulator.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Review PoC (failing on purpose): `grantAuthorization` (infra/stacks/grants/common.ts) gives *every* API
 * function (query and connections, which open network connections to customer databases; audit; storage)
 * PutItem/UpdateItem/DeleteItem on the whole identity table and UpdateItem on the whole tenant-data table,
 * though the authorizer only reads, touches a session's lastSeenAt, takes rate slots and writes an API
 * key's last-used time. A compromised runtime role of any of these functions can therefore:
 * - put a session item for any user with a secret it chose and `mfa: true` (sign in as anyone, MFA
 *   included), or rewrite a user's profile (passwordHash, mfaEnabled: false);
 * - update any tenant's member item to `role: owner`, or a tenant's settings (requireMfa: false);
 * - delete rate-window items (reset the sign-in and TOTP failure budgets).
 * The threat model includes a compromised runtime role limited by IAM; these are not limited.
 * Judged with the IAM policy simulator on the synthesized statements (table references made concrete).
 */
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const ACCOUNT = '123456789012';
const IDENTITY = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/strongroom-identity`;
const TENANT_DATA = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/strongroom-tenant-data`;

let synth: Synthesised;
const byArea = new Map<string, Statement[]>();

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  for (const area of ['query', 'connections', 'audit', 'storage'] as const) {
    const fn = stack.functions[area];
    if (!fn) continue;
    const role = JSON.stringify(stack.resolve(fn.role.roleName));
    const statements = policies
      .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    // Make the authorizer statements' table references concrete, keeping actions and conditions as synthesized.
    byArea.set(
      area,
      statements
        .filter((s) => s.Sid === 'IdentityItems' || s.Sid === 'AuthorizerTenantLookups')
        .map((s) => ({
          ...s,
          Resource: s.Sid === 'IdentityItems' ? [IDENTITY, `${IDENTITY}/index/*`] : [TENANT_DATA],
        })),
    );
  }
});
afterAll(() => synth?.cleanup());

const roleOf = (area: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/strongroom-${area}/fn`;

describe('review: what a compromised non-auth API function role may write through the authorizer grants', () => {
  it('found the query, connections and audit functions', () => {
    expect([...byArea.keys()]).toEqual(expect.arrayContaining(['query', 'connections', 'audit']));
  });

  for (const area of ['query', 'connections', 'audit']) {
    it(`${area}: cannot put a session item, rewrite a member's role, or delete rate counters`, async () => {
      const identityPolicies = [{ Version: '2012-10-17', Statement: byArea.get(area)! }];
      const decisions = {
        putSession: await simulate({
          principal: roleOf(area),
          action: 'dynamodb:PutItem',
          resource: IDENTITY,
          context: { 'dynamodb:LeadingKeys': ['SESSION#s_01jzzzzzzzzzzzzzzzzzzzzzzz'] },
          identityPolicies,
        }),
        rewriteUserProfile: await simulate({
          principal: roleOf(area),
          action: 'dynamodb:UpdateItem',
          resource: IDENTITY,
          context: {
            'dynamodb:LeadingKeys': ['USER#u_01jzzzzzzzzzzzzzzzzzzzzzzz'],
            'dynamodb:Attributes': ['passwordHash', 'mfaEnabled'],
          },
          identityPolicies,
        }),
        deleteRateCounter: await simulate({
          principal: roleOf(area),
          action: 'dynamodb:DeleteItem',
          resource: IDENTITY,
          context: { 'dynamodb:LeadingKeys': ['RATE#totp-failures-3600s#victim@example.test'] },
          identityPolicies,
        }),
        promoteMemberToOwner: await simulate({
          principal: roleOf(area),
          action: 'dynamodb:UpdateItem',
          resource: TENANT_DATA,
          context: {
            'dynamodb:LeadingKeys': ['t_01jzzzzzzzzzzzzzzzzzzzzzzz'],
            'dynamodb:Attributes': ['role'],
          },
          identityPolicies,
        }),
      };
      expect(decisions).toEqual({
        putSession: 'ImplicitlyDenied',
        rewriteUserProfile: 'ImplicitlyDenied',
        deleteRateCounter: 'ImplicitlyDenied',
        promoteMemberToOwner: 'ImplicitlyDenied',
      });
    });
  }
});
