import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Synthesised, synthStrongroom } from './synth.js';

/** Actions that would let a role change or remove audit items (or everything, through a wildcard). */
const FORBIDDEN = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
  'dynamodb:DeleteTable',
  'dynamodb:UpdateTable',
];

interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
}

let synth: Synthesised;
const statements: Array<{ stack: string; policy: string; statement: Statement }> = [];

/** Every IAM statement of every stack: policies, managed policies and roles' inline policies. */
beforeAll(() => {
  synth = synthStrongroom();
  for (const region of synth.stacks) {
    for (const stack of [region.stateful, region.stateless]) {
      const template = synth.assembly.getStackByName(stack.stackName).template as {
        Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
      };
      for (const [id, resource] of Object.entries(template.Resources)) {
        const documents: unknown[] = [];
        if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
          documents.push(resource.Properties?.PolicyDocument);
        if (resource.Type === 'AWS::IAM::Role')
          for (const p of resource.Properties?.Policies ?? []) documents.push(p.PolicyDocument);
        for (const doc of documents)
          for (const statement of ((doc as { Statement?: Statement[] })?.Statement ?? []) as Statement[])
            statements.push({ stack: stack.stackName, policy: id, statement });
      }
    }
  }
});
afterAll(() => synth?.cleanup());

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []);
const matches = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(action);
/** Whether a statement's resources can include the audit table (by reference, export name or wildcard). */
const reachesAudit = (s: Statement) => {
  const text = JSON.stringify(s.Resource ?? '*');
  return /AuditTable/i.test(text) || /audit/i.test(text) || text === '"*"' || text.includes('table/*');
};

function offendingIn(list: typeof statements): string[] {
  return list
    .filter(({ statement }) => statement.Effect === 'Allow' && reachesAudit(statement))
    .flatMap(({ stack, policy, statement }) =>
      actionsOf(statement)
        .filter((action) => FORBIDDEN.some((forbidden) => matches(action, forbidden)))
        .map((action) => `${stack}/${policy}: ${action} on ${JSON.stringify(statement.Resource)}`),
    );
}

describe('audit items are append-only for every runtime role', () => {
  it('found the policies to check', () => {
    // Act / Assess: the statements were collected, and the audit table's PutItem grant is among them
    expect(statements.length).toBeGreaterThan(10);
    expect(
      statements.some(
        ({ statement }) => reachesAudit(statement) && actionsOf(statement).includes('dynamodb:PutItem'),
      ),
    ).toBe(true);
  });

  it('no Allow statement that reaches the audit table grants Update, Delete or BatchWrite (or a wildcard of them)', () => {
    // Act / Assess
    expect(offendingIn(statements)).toEqual([]);
  });

  it('would catch such a grant (live control)', () => {
    // Prepare: three grants that reach the audit table and one that does not
    const bad = (Action: string, Resource: unknown) => ({
      stack: 'control',
      policy: 'p',
      statement: { Effect: 'Allow', Action, Resource },
    });

    // Act / Assess
    expect(
      offendingIn([
        bad('dynamodb:*', { 'Fn::GetAtt': ['AuditTable1234', 'Arn'] }),
        bad('dynamodb:UpdateItem', '*'),
        bad('dynamodb:Delete*', { 'Fn::ImportValue': 'stateful:ExportsOutputFnGetAttAuditTableArn' }),
        bad('dynamodb:UpdateItem', { 'Fn::GetAtt': ['TenantDataTable1', 'Arn'] }),
      ]),
    ).toHaveLength(3);
  });
});
