import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, inject } from 'vitest';
import { provisionLocalOidcProviders } from '../../infra/local/oidc-providers.js';
import { TEST_CONSOLE_URL, TEST_REGION, TEST_STAGE } from './integration-setup.js';

/** An account at the test provider. */
export interface ProviderAccount {
  sub: string;
  email?: string;
  email_verified?: unknown;
  name?: string;
}

/** Rewrites the ID token the token endpoint answers (the test provider mis-issuing, signed with its own key). */
export type IdTokenTamper = (
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
) => { payload: Record<string, unknown>; header?: Record<string, unknown>; hmacSecret?: string };

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next sign-in at the provider is made as. */
  signInAs(account: ProviderAccount): void;
  /** Tamper with the next ID token(s) the token endpoint issues; undefined stops it. */
  tamper(fn: IdTokenTamper | undefined): void;
  /**
   * What a browser does with an authorization URL: signs in at the provider (as `signInAs` said) and
   * follows the redirects until the provider sends it to the redirect URI; that URL, with its `code`,
   * `state` and `iss`.
   */
  authorize(authorizationUrl: string): Promise<URL>;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (node-oidc-provider) on a free loopback port, with one confidential client whose
 * redirect URI is `redirectUri`. Its sign-in page signs in whoever `signInAs` named, without a form, and
 * grants the client's scopes at once (a first-party client).
 */
export async function startTestOidcProvider(options: {
  redirectUri: string;
  clientId?: string;
  clientSecret?: string;
}): Promise<TestOidcProvider> {
  const clientId = options.clientId ?? 'strongroom-test';
  const clientSecret = options.clientSecret ?? 'test-client-secret-that-is-long-enough-for-hs256-0123456789';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const signingKey = await importJWK(jwk, 'RS256');

  let account: ProviderAccount = { sub: 'nobody' };
  const accounts = new Map<string, ProviderAccount>();
  let tamper: IdTokenTamper | undefined;

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-cookie-key-0123456789'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the claims itself (no userinfo round trip needed).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const found = accounts.get(id);
      if (!found) return undefined;
      return { accountId: id, claims: async () => ({ ...found }) };
    },
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid email profile');
      grant.addOIDCClaims(['email', 'email_verified', 'name']);
      await grant.save();
      return grant;
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path !== '/token' || !tamper || !body?.id_token) return;
    const changed = tamper({ ...decodeJwt(body.id_token) }, { ...decodeProtectedHeader(body.id_token) });
    const header = { ...(changed.header ?? { alg: 'RS256', kid: 'test-key' }) } as { alg: string };
    const jwt = new SignJWT(changed.payload).setProtectedHeader(header);
    body.id_token = changed.hmacSecret
      ? await jwt.sign(new TextEncoder().encode(changed.hmacSecret))
      : await jwt.sign(signingKey);
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    // The provider's sign-in page: whoever the test named signs in, at once.
    try {
      await provider.interactionDetails(req, res);
      accounts.set(account.sub, account);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: account.sub } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });

  return {
    issuer,
    clientId,
    clientSecret,
    signInAs(next) {
      account = next;
    },
    tamper(fn) {
      tamper = fn;
    },
    async authorize(authorizationUrl) {
      const cookies = new Map<string, string>();
      let next = new URL(authorizationUrl);
      for (let hop = 0; hop < 10; hop++) {
        const res = await fetch(next, {
          redirect: 'manual',
          headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        for (const set of res.headers.getSetCookie()) {
          const [pair] = set.split(';');
          const eq = pair!.indexOf('=');
          cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        const location = res.headers.get('location');
        if (!location)
          throw new Error(`provider answered ${res.status} without a redirect: ${await res.text()}`);
        next = new URL(location, next);
        if (next.href.startsWith(options.redirectUri)) return next;
      }
      throw new Error('too many redirects at the provider');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An entry of a local-mode providers file (STRONGROOM_OIDC_PROVIDERS). */
export interface LocalProviderEntry {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** The test provider as the providers file's `test-idp` ("Test IdP"). */
export const testIdpEntry = (idp: TestOidcProvider): LocalProviderEntry => ({
  id: 'test-idp',
  name: 'Test IdP',
  issuer: idp.issuer,
  clientId: idp.clientId,
  clientSecret: idp.clientSecret,
});

/** Writes `entries` as a providers file in a fresh temporary folder; the file's path and the folder's. */
export async function writeProvidersFile(
  entries: LocalProviderEntry[],
): Promise<{ file: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'strongroom-oidc-'));
  const file = path.join(dir, 'providers.json');
  await writeFile(file, JSON.stringify(entries));
  return { file, dir };
}

/**
 * Configures `entries` for the functions of this test process as local mode does: each client secret goes
 * into the emulator's Secrets Manager, and OIDC_PROVIDERS (names and ARNs only) into process.env. The
 * variables it set, for the file to remove again.
 */
export async function configureOidcProviders(entries: LocalProviderEntry[]): Promise<Record<string, string>> {
  const { file, dir } = await writeProvidersFile(entries);
  try {
    const env = await provisionLocalOidcProviders({
      file,
      endpoint: inject('awsEndpoint'),
      region: TEST_REGION,
      stage: TEST_STAGE,
    });
    Object.assign(process.env, env);
    return env;
  } finally {
    await rm(dir, { recursive: true });
  }
}

let accounts = 0;

/** A fresh account at the provider (an address of its own, verified there unless told otherwise). */
export function providerAccount(overrides: Partial<ProviderAccount> = {}): ProviderAccount {
  accounts++;
  return {
    sub: `sub-${accounts}-${Date.now()}`,
    email: `idp-${accounts}-${Date.now()}@idp.example.test`,
    email_verified: true,
    name: `IdP User ${accounts}`,
    ...overrides,
  };
}

/**
 * For the tests of one file: a test provider on loopback, configured for the functions as `test-idp` (after
 * the entries `before` gives, if any) before the local API starts (call it before `useTestApi()`), and
 * closed, with OIDC_PROVIDERS removed, after them. The variables it set are in `env`.
 */
export function useTestOidcProvider(
  before: () => Promise<LocalProviderEntry[]> = async () => [],
): TestOidcProvider & { readonly env: Record<string, string> } {
  let started: TestOidcProvider | undefined;
  let env: Record<string, string> = {};
  beforeAll(async () => {
    started = await startTestOidcProvider({ redirectUri: TEST_CONSOLE_URL });
    env = await configureOidcProviders([...(await before()), testIdpEntry(started)]);
  });
  afterAll(async () => {
    delete process.env.OIDC_PROVIDERS;
    await started?.close();
  });
  const idp = () => {
    if (!started)
      throw new Error('the test provider starts in beforeAll; use it inside tests and later hooks');
    return started;
  };
  return {
    get issuer() {
      return idp().issuer;
    },
    get clientId() {
      return idp().clientId;
    },
    get clientSecret() {
      return idp().clientSecret;
    },
    get env() {
      return env;
    },
    signInAs: (account) => idp().signInAs(account),
    tamper: (fn) => idp().tamper(fn),
    authorize: (url) => idp().authorize(url),
    close: () => idp().close(),
  };
}

/** The body of `POST /v1/auth/oidc/callback` for a flow, as the console sends it after the provider's redirect. */
export type CallbackBody = {
  state: string;
  code: string;
  iss: string | undefined;
  flowToken: string;
};

/**
 * What a browser does with a started flow (`start` is the start or link answer's body): signs in at `idp` as
 * `account`, follows the redirects back, and returns the callback's body.
 */
export async function callbackBody(
  idp: Pick<TestOidcProvider, 'signInAs' | 'authorize'>,
  start: { authorizationUrl: string; flowToken: string },
  account: ProviderAccount,
): Promise<CallbackBody> {
  idp.signInAs(account);
  const back = await idp.authorize(start.authorizationUrl);
  return {
    state: back.searchParams.get('state')!,
    code: back.searchParams.get('code')!,
    iss: back.searchParams.get('iss') ?? undefined,
    flowToken: start.flowToken,
  };
}
