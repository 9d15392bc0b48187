import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, oidcProvidersFromContext } from '../../infra/strongroom.js';
import { ENV_VARS } from '../../shared/aws/config.js';
import type { PlatformOidcProvider } from '../../shared/domain/oidc.js';
import { AREAS } from '../../shared/http/route.js';
import { simulate } from '../support/iam-simulator.js';
import { ACCOUNT, functionPrincipal, type Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Platform OpenID providers: the auth function (and no other) may read their client secrets from Secrets
 * Manager, those and no others; the template holds the secrets' ARNs, never their values. Judged with the
 * IAM policy simulator on each function role's synthesised Secrets Manager statements, made concrete.
 */
const REGION = 'eu-central-1';
const GOOGLE_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:strongroom/oidc/google-AbCdEf`;
const PROVIDERS: PlatformOidcProvider[] = [
  {
    id: 'google',
    name: 'Google',
    issuer: 'https://accounts.google.com',
    clientId: 'google-client',
    clientSecretArn: GOOGLE_SECRET,
  },
  {
    id: 'corp',
    name: 'Corp SSO',
    issuer: 'https://login.corp.example.com/realms/staff',
    clientId: 'corp-client',
    // By name: granted as the ARNs Secrets Manager gives a secret of that name (a six-character suffix).
    clientSecretArn: 'strongroom/oidc/corp',
    algorithm: 'ES256',
  },
];

let synth: Synthesised;
let template: Template;
const statements = new Map<string, Statement[]>();

/** CloudFormation pseudo parameters in a statement made concrete. */
function concrete(value: unknown): unknown {
  if (typeof value === 'string') return value;
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
  synth = synthStrongroom([REGION], { oidcProviders: PROVIDERS });
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
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:') || a === '*'))
        .map((s) => concrete(s) as Statement),
    );
  }
}, 180_000);
afterAll(() => synth?.cleanup());

const read = (area: string, secret: string, action = 'secretsmanager:GetSecretValue') =>
  simulate({
    principal: functionPrincipal(area),
    action,
    resource: secret,
    identityPolicies: [{ Version: '2012-10-17', Statement: statements.get(area) ?? [] }],
  });

describe('platform OpenID providers', () => {
  it('lets the auth function read each provider’s client secret, by ARN or by name', async () => {
    // Act
    const decisions = await Promise.all([
      read('auth', GOOGLE_SECRET),
      read('auth', `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:strongroom/oidc/corp-XyZ123`),
    ]);

    // Assess
    expect(decisions).toEqual(['Allowed', 'Allowed']);
  });

  it('denies every other secret, every other Secrets Manager action, and every other function', async () => {
    // Prepare: secrets that are not the providers' (one whose name merely extends a provider's)
    const others = [
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:strongroom/oidc/corporate-XyZ123`,
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:strongroom/oidc/corp-extra-XyZ123`,
      `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:database-password-AbCdEf`,
      `arn:aws:secretsmanager:${REGION}:210987654321:secret:strongroom/oidc/corp-XyZ123`,
    ];

    // Act
    const otherSecrets = await Promise.all(others.map((s) => read('auth', s)));
    const otherActions = await Promise.all(
      ['secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret'].map(
        (a) => read('auth', GOOGLE_SECRET, a),
      ),
    );
    const otherFunctions = await Promise.all(
      AREAS.filter((a) => a !== 'auth').map((area) => read(area, GOOGLE_SECRET)),
    );

    // Assess
    expect(otherSecrets.every((d) => d !== 'Allowed')).toBe(true);
    expect(otherActions.every((d) => d !== 'Allowed')).toBe(true);
    expect(otherFunctions.every((d) => d !== 'Allowed')).toBe(true);
  });

  it('gives only the auth function the providers, as names and ARNs (no secret value in the template)', () => {
    // Prepare
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }[];

    // Act
    const withProviders = functions.filter(
      (f) => f.Properties.Environment?.Variables?.[ENV_VARS.oidcProviders],
    );

    // Assess
    expect(withProviders).toHaveLength(1);
    expect(
      JSON.parse(withProviders[0]!.Properties.Environment!.Variables![ENV_VARS.oidcProviders] as string),
    ).toEqual(PROVIDERS);
    expect(JSON.stringify(template.toJSON())).not.toMatch(/client_secret|clientSecret"/);
  });

  it('reads the providers from CDK context and refuses a bad one naming the key', () => {
    // Act / Assess: none, a JSON string, an array; a provider over plain HTTP is refused naming the key
    expect(oidcProvidersFromContext(undefined)).toEqual([]);
    expect(oidcProvidersFromContext(JSON.stringify(PROVIDERS))).toEqual(PROVIDERS);
    expect(oidcProvidersFromContext(PROVIDERS)).toEqual(PROVIDERS);
    expect(() =>
      oidcProvidersFromContext([{ ...PROVIDERS[0], issuer: 'http://accounts.google.com' }]),
    ).toThrow(`${CONTEXT_KEYS.oidcProviders}: OIDC provider 0: issuer: An issuer must be an https URL`);
    // Assess: a secret reference IAM would read as a wildcard never reaches the auth role's grant
    expect(() => oidcProvidersFromContext([{ ...PROVIDERS[0], clientSecretArn: 'strongroom/*' }])).toThrow(
      `${CONTEXT_KEYS.oidcProviders}: OIDC provider 0: clientSecretArn: not a Secrets Manager secret name`,
    );
  });

  it('grants nothing of Secrets Manager for providers when none is configured', () => {
    // Act: the default synthesis (no providers)
    const plain = synthStrongroom([REGION]);
    try {
      const stack = plain.stacks[0]!.stateless;
      const policies = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));

      // Assess
      expect(policies).not.toContain('OidcClientSecrets');
    } finally {
      plain.cleanup();
    }
  }, 180_000);
});
