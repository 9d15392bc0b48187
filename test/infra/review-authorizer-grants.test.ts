import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../support/iam-simulator.js';
import { areaIdentityPolicies, functionPrincipal, TABLE_ARNS } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Review PoC (it failed before the fix): `grantAuthorization` (infra/stacks/grants/common.ts) gives *every* API
 * function (query and connections, which open network connections to customer databases; audit; storage)
 * PutItem/UpdateItem/DeleteItem on the whole identity table and UpdateItem on the whole tenant-data table,
 * though the authorizer only reads, touches a session's lastSeenAt, takes rate slots and writes an API
 * key's last-used time. A compromised runtime role of any of these functions can therefore:
 * - put a session item for any user with a secret it chose and `mfa: true` (sign in as anyone, MFA
 *   included), or rewrite a user's profile (passwordHash, mfaEnabled: false);
 * - update any tenant's member item to `role: owner`, or a tenant's settings (requireMfa: false);
 * - delete rate-window items (reset the sign-in and TOTP failure budgets).
 * A compromised runtime role is meant to be limited by IAM; these writes are not.
 * Judged with the IAM policy simulator on all of each role's synthesized statements (table references made
 * concrete); test/infra/function-write-grants.test.ts sweeps every function and every such write.
 */
const IDENTITY = TABLE_ARNS.identity;
const TENANT_DATA = TABLE_ARNS.tenantData;

let synth: Synthesised;
const byArea = new Map<string, unknown[]>();

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  // Every statement of the function's role (not only the authorizer's), with table references made concrete.
  for (const area of ['query', 'connections', 'audit', 'storage'] as const) {
    if (stack.functions[area]) byArea.set(area, areaIdentityPolicies(stack, area));
  }
});
afterAll(() => synth?.cleanup());

const roleOf = functionPrincipal;

describe('review: what a compromised non-auth API function role may write through the authorizer grants', () => {
  it('found the query, connections and audit functions', () => {
    // Act / Assess
    expect([...byArea.keys()]).toEqual(expect.arrayContaining(['query', 'connections', 'audit']));
  });

  for (const area of ['query', 'connections', 'audit', 'storage']) {
    it(`${area}: cannot put a session item, rewrite a member's role, or delete rate counters`, async () => {
      // Prepare
      const identityPolicies = byArea.get(area)!;

      // Act: the four writes a compromised role would try, judged by the simulator
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

      // Assess
      expect(decisions).toEqual({
        putSession: 'ImplicitlyDenied',
        rewriteUserProfile: 'ImplicitlyDenied',
        deleteRateCounter: 'ImplicitlyDenied',
        promoteMemberToOwner: 'ImplicitlyDenied',
      });
    });
  }
});
