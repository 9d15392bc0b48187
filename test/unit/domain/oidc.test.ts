import { describe, expect, it } from 'vitest';
import { isMultiFactor } from '../../../shared/domain/authentication.js';
import {
  displayNameOf,
  emailDomainOf,
  flowDerivedSecrets,
  flowTokenHash,
  identityClaimsOf,
  issuerProblem,
  newFlowSecrets,
  parsePlatformProviders,
  providerKeyOf,
  providerRefOf,
  stateHash,
} from '../../../shared/domain/oidc.js';

const provider = {
  id: 'google',
  name: 'Google',
  issuer: 'https://accounts.google.com',
  clientId: 'client',
  clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:google-AbCdEf',
};

describe('OIDC providers and flows', () => {
  it('parses the platform providers, and names the first problem of a bad one', () => {
    // Assess: a good list, and none configured
    expect(parsePlatformProviders(JSON.stringify([provider]))).toEqual([provider]);
    expect(parsePlatformProviders(undefined)).toEqual([]);
    for (const clientSecretArn of [
      'strongroom/google_client+secret=@.-1',
      'arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:idp/google-AbCdEf',
      'arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:google-AbCdEf',
    ])
      expect(parsePlatformProviders(JSON.stringify([{ ...provider, clientSecretArn }]))).toEqual([
        { ...provider, clientSecretArn },
      ]);
    // Assess: each problem by name
    const bad: [Record<string, unknown>[], RegExp][] = [
      [[{ ...provider, clientSecretArn: undefined }], /clientSecretArn is required/],
      [[{ ...provider, id: 'Google!' }], /id "Google!" is not valid/],
      [[provider, provider], /appears twice/],
      [[{ ...provider, issuer: 'http://idp.example.com' }], /issuer: An issuer must be an https URL/],
      [[{ ...provider, issuer: 'https://idp.example.com/?x=1' }], /no query or fragment/],
      [[{ ...provider, algorithm: 'HS256' }], /algorithm must be one of/],
      [[{ ...provider, algorithm: 'none' }], /algorithm must be one of/],
      [[{ ...provider, clientSecretArn: '*' }], /clientSecretArn: not a Secrets Manager secret name/],
      [[{ ...provider, clientSecretArn: 'google-*' }], /clientSecretArn: not a Secrets Manager secret name/],
      [[{ ...provider, clientSecretArn: 'google secret' }], /clientSecretArn: not a Secrets Manager/],
      [[{ ...provider, clientSecretArn: 'x'.repeat(513) }], /clientSecretArn: not a Secrets Manager/],
      [
        [{ ...provider, clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:*' }],
        /clientSecretArn: not the ARN of one Secrets Manager secret/,
      ],
      [
        [{ ...provider, clientSecretArn: 'arn:aws:secretsmanager:*:123456789012:secret:google-AbCdEf' }],
        /clientSecretArn: not the ARN of one/,
      ],
      [
        [{ ...provider, clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:go?gle' }],
        /clientSecretArn: not the ARN of one/,
      ],
      [
        [{ ...provider, clientSecretArn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/x' }],
        /not the ARN of one/,
      ],
      [
        [{ ...provider, clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:1234:secret:x' }],
        /not the ARN of one/,
      ],
    ];
    for (const [list, problem] of bad)
      expect(() => parsePlatformProviders(JSON.stringify(list))).toThrow(problem);
    expect(() => parsePlatformProviders('{}')).toThrow(/not a JSON array/);
  });

  it('allows plain HTTP issuers on loopback only', () => {
    // Act / Assess
    expect(issuerProblem('http://127.0.0.1:4000')).toBeUndefined();
    expect(issuerProblem('http://localhost:4000/realms/x')).toBeUndefined();
    expect(issuerProblem('http://127.0.0.1.example.com')).toBe('An issuer must be an https URL');
    expect(issuerProblem('not a url')).toBe('Not a URL');
  });

  it('round-trips provider keys', () => {
    // Act / Assess
    expect(providerKeyOf({ kind: 'platform', id: 'google' })).toBe('platform:google');
    expect(providerKeyOf({ kind: 'tenant', tenantId: 't_1' })).toBe('tenant:t_1');
    expect(providerRefOf('tenant:t_1')).toEqual({ kind: 'tenant', tenantId: 't_1' });
    expect(providerRefOf('platform:google')).toEqual({ kind: 'platform', id: 'google' });
    expect(() => providerRefOf('other:x')).toThrow();
  });

  it('derives the PKCE verifier and nonce from both flow secrets, and stores neither secret', () => {
    // Prepare
    const a = newFlowSecrets();
    const b = newFlowSecrets();

    // Act
    const derived = flowDerivedSecrets(a);

    // Assess: a valid PKCE verifier (43 characters of the unreserved set), different per flow and per
    // token, and hashes that are neither secret
    expect(derived.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(derived.nonce).not.toBe(derived.codeVerifier);
    expect(flowDerivedSecrets({ state: a.state, flowToken: b.flowToken })).not.toEqual(derived);
    expect(flowDerivedSecrets(a)).toEqual(derived);
    expect([stateHash(a.state), flowTokenHash(a.flowToken)]).not.toContain(a.state);
    expect(stateHash(a.state)).not.toBe(flowTokenHash(a.state));
  });

  it('counts an email as verified only when email_verified is the boolean true', () => {
    // Act / Assess
    expect(identityClaimsOf({ sub: 's', email: 'a@b.c', email_verified: true })?.emailVerified).toBe(true);
    for (const value of ['true', 1, undefined, null, false])
      expect(identityClaimsOf({ sub: 's', email: 'a@b.c', email_verified: value })?.emailVerified).toBe(
        false,
      );
    expect(identityClaimsOf({ sub: 's', name: '  ' })?.name).toBeUndefined();
    expect(emailDomainOf('Ann@Example.COM')).toBe('example.com');
  });

  it('holds claims to the unsafe-text rule: a bad name is dropped, a bad address is unverified, a bad sub refused', () => {
    // Prepare
    const good = { sub: 's', email: 'ann@example.test', email_verified: true };

    // Act / Assess: names that reorder, hide or break text are dropped, the fallback is the local part
    for (const name of [
      'Admin\u202Egnp.exe',
      'A\u200Bdmin',
      'Odd \uD800 name',
      'Bell\u0007',
      'x'.repeat(201),
    ]) {
      const claims = identityClaimsOf({ ...good, name })!;
      expect(claims.name, JSON.stringify(name)).toBeUndefined();
      expect(displayNameOf(claims, 'ann@example.test')).toBe('ann');
    }
    expect(identityClaimsOf({ ...good, name: '  Ann Lee 👩‍💻 ' })?.name).toBe('Ann Lee 👩‍💻');
    // Addresses: unsafe, malformed or overlong ones are not verified (and not kept)
    for (const email of [
      'ann\u202E@example.test',
      'ann@exa\u200Bmple.test',
      'ann\uD800@example.test',
      'not-an-address',
      'a b@example.test',
      `${'a'.repeat(250)}@example.test`,
    ]) {
      const claims = identityClaimsOf({ ...good, email })!;
      expect([claims.email, claims.emailVerified], JSON.stringify(email)).toEqual([undefined, false]);
    }
    // The subject: a non-string, empty, overlong or unsafe one is no identity at all
    for (const sub of [42, '', 'x'.repeat(256), 'a\u0000b', '\uDC00'])
      expect(identityClaimsOf({ ...good, sub })).toBeUndefined();
  });

  it('never counts a provider alone as a second factor', () => {
    // Act / Assess
    expect(isMultiFactor('sso')).toBe(false);
    expect(isMultiFactor('sso+totp')).toBe(true);
    expect(isMultiFactor('password')).toBe(false);
  });
});
