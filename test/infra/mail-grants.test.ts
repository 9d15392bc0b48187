import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_MAIL } from '../../infra/strongroom.js';
import { AREAS } from '../../shared/http/route.js';
import { simulate } from '../support/iam-simulator.js';
import { ACCOUNT, functionPrincipal, type Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Mail: the stage's SES domain identity, and `ses:SendEmail` on it (from its one sender address) for the
 * functions that mail (auth: verification, reset, notices; tenants: invitations) and for no other. Judged
 * with the IAM policy simulator on each function role's synthesized SES statements, made concrete.
 */
const REGION = 'eu-central-1';
const IDENTITY = `arn:aws:ses:${REGION}:${ACCOUNT}:identity/${EXAMPLE_MAIL.domain}`;
const FROM = `no-reply@${EXAMPLE_MAIL.domain}`;

let synth: Synthesised;
let template: Template;
const sesStatements = new Map<string, Statement[]>();

/** CloudFormation references in an SES statement made concrete (pseudo parameters, the identity's name). */
function concrete(value: unknown, identityLogicalId: string): unknown {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => concrete(v, identityLogicalId));
  const object = value as Record<string, unknown>;
  if (object.Ref === 'AWS::Partition') return 'aws';
  if (object.Ref === 'AWS::AccountId') return ACCOUNT;
  if (object.Ref === 'AWS::Region') return REGION;
  if (object.Ref === identityLogicalId) return EXAMPLE_MAIL.domain;
  const join = object['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map((v) => concrete(v, identityLogicalId)).join(join[0]);
  if (Object.keys(object).some((k) => k.startsWith('Fn::') || k === 'Ref'))
    return `arn:aws:unresolved:::${JSON.stringify(value)}`;
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, concrete(v, identityLogicalId)]));
}

beforeAll(() => {
  synth = synthStrongroom([REGION]);
  const stack = synth.stacks[0]!.stateless;
  template = Template.fromStack(stack);
  const identityLogicalId = Object.keys(template.findResources('AWS::SES::EmailIdentity'))[0]!;
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  for (const area of AREAS) {
    const fn = stack.functions[area];
    if (!fn) continue;
    const role = JSON.stringify(stack.resolve(fn.role.roleName));
    sesStatements.set(
      area,
      policies
        .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('ses:') || a === '*'))
        .map((s) => concrete(s, identityLogicalId) as Statement),
    );
  }
});
afterAll(() => synth?.cleanup());

const send = (area: string, resource: string, from: string) =>
  simulate({
    principal: functionPrincipal(area),
    action: 'ses:SendEmail',
    resource,
    context: { 'ses:FromAddress': from },
    identityPolicies: [{ Version: '2012-10-17', Statement: sesStatements.get(area) ?? [] }],
  });

describe('mail through SES', () => {
  it('provisions one SES domain identity for the configured domain, with Easy DKIM', () => {
    // Act
    const identities = Object.values(template.findResources('AWS::SES::EmailIdentity')) as {
      Properties: { EmailIdentity: string; DkimAttributes?: { SigningEnabled?: boolean } };
    }[];

    // Assess
    expect(identities.map((i) => i.Properties.EmailIdentity)).toEqual([EXAMPLE_MAIL.domain]);
  });

  it('auth and tenants may send from the stage sender on that identity, and only so', async () => {
    // Act / Assess: the stage sender on the identity; another sender, another identity, other SES actions
    for (const area of ['auth', 'tenants']) {
      expect(await send(area, IDENTITY, FROM), area).toBe('Allowed');
      expect(await send(area, IDENTITY, 'ceo@strongroom.example.com'), area).toBe('ImplicitlyDenied');
      expect(
        await send(area, `arn:aws:ses:${REGION}:${ACCOUNT}:identity/elsewhere.example`, FROM),
        area,
      ).toBe('ImplicitlyDenied');
      for (const action of ['ses:SendRawEmail', 'ses:SendBulkEmail', 'ses:CreateEmailIdentity']) {
        const decision = await simulate({
          principal: functionPrincipal(area),
          action,
          resource: IDENTITY,
          context: { 'ses:FromAddress': FROM },
          identityPolicies: [{ Version: '2012-10-17', Statement: sesStatements.get(area)! }],
        });
        expect(decision, `${area} ${action}`).toBe('ImplicitlyDenied');
      }
    }
  });

  it('no other function may send mail', async () => {
    // Act
    const others = AREAS.filter((a) => a !== 'auth' && a !== 'tenants' && sesStatements.has(a));

    // Assess: none has an SES statement or may send
    expect(others.length).toBeGreaterThanOrEqual(4);
    for (const area of others) {
      expect(sesStatements.get(area), area).toEqual([]);
      expect(await send(area, IDENTITY, FROM), area).toBe('ImplicitlyDenied');
    }
  });

  it('gives the functions the sender and the console URL links point at, and no SMTP setting', () => {
    // Act
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }[];

    // Assess: two functions at least carry the sender and the console URL, and no SMTP URL
    const auth = functions.filter((f) => f.Properties.Environment?.Variables?.MAIL_FROM);
    expect(auth.length).toBeGreaterThanOrEqual(2);
    for (const f of auth) {
      expect(f.Properties.Environment!.Variables).toMatchObject({
        MAIL_FROM: `Strongroom <${FROM}>`,
        CONSOLE_URL: EXAMPLE_MAIL.consoleUrl,
      });
      expect(f.Properties.Environment!.Variables!.MAIL_SMTP_URL).toBeUndefined();
    }
  });
});
