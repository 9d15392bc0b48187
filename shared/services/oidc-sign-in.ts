import type * as OpenIdClient from 'openid-client';
import { hashPassword } from '../crypto/passwords.js';
import type { AuditEventInput } from '../domain/audit-events.js';
import type { AuthMethod } from '../domain/authentication.js';
import type { Principal, RequestOrigin } from '../domain/caller.js';
import { newSecret, normaliseEmail } from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import {
  displayNameOf,
  emailDomainOf,
  flowDerivedSecrets,
  flowTokenHash,
  identityClaimsOf,
  isLoopbackIssuer,
  newFlowSecrets,
  OIDC_FLOW_TTL_SECONDS,
  type OidcIdentityClaims,
  type OidcIntent,
  type OidcProviderRef,
  type OidcProviderSource,
  providerKeyOf,
  providerRefOf,
  type ResolvedOidcProvider,
  stateHash,
} from '../domain/oidc.js';
import { deviceFingerprint, type SignInFailureReason } from '../domain/sign-in-history.js';
import {
  ConflictError,
  EmailUnverifiedError,
  ForbiddenError,
  HttpProblemError,
  NotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
  ValidationError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { AuditRecorder, TransactItem } from '../store/audit-recorder.js';
import type { UserRecord } from '../store/identity-records.js';
import { epochOf } from '../store/identity-records.js';
import { type IdentityStore, publicUser } from '../store/identity-store.js';
import type { OidcFlowRecord, OidcIdentityRecord, OidcStore } from '../store/oidc-flows.js';
import type { AccountEmailService } from './account-email.js';
import { invalidToken } from './account-email.js';
import { requireCurrentPassword } from './current-password.js';
import {
  hasSecondFactor,
  requireFactorPresence,
  type SecondFactorVerifier,
  secondFactorOf,
  signInFactorOf,
} from './second-factor.js';
import { SignInSteps } from './sign-in-steps.js';

/** Told when an account signs in from a device it has not used for 90 days (the identity service's notice). */
export type NewDeviceNotice = (user: UserRecord, signIn: { ip: string; userAgent: string }) => Promise<void>;

/** Mails the owner that a provider identity was linked to or unlinked from the account (AccountEmailService). */
export type LinkNotice = (
  user: UserRecord,
  change: 'sso-linked' | 'sso-unlinked',
  origin: RequestOrigin,
) => Promise<void>;

/** A signed-in caller of the /v1/me/oidc routes. */
export type OidcCaller = Pick<Principal, 'kind' | 'userId' | 'credentialId' | 'mfa'>;

export interface OidcSignInDeps {
  identity: IdentityStore;
  oidc: OidcStore;
  audit: AuditRecorder;
  providers: OidcProviderSource;
  secondFactors: SecondFactorVerifier;
  /** The redirect URI registered at every provider: the console's base URL. */
  redirectUri: string;
  newDevice?: NewDeviceNotice;
  /** Told after every link and unlink (the owner is mailed). */
  linkNotice: LinkNotice;
  /**
   * Mails and redeems link confirmations (an OIDC sign-in with a verified account's address); without it,
   * such a sign-in only answers `oidc-link-required`.
   */
  linkMail?: Pick<AccountEmailService, 'mailLinkConfirmation' | 'redeemLinkToken'>;
  now?: () => number;
  /** The relying-party library; loaded at the first flow so functions that never run one do not pay for it. */
  loadClient?: () => Promise<typeof OpenIdClient>;
}

/** What a callback sends back from the provider, with the flow token the start gave the client. */
export interface OidcCallbackInput {
  state: string;
  code: string;
  /** The `iss` authorization response parameter (RFC 9207), when the provider sends one. */
  iss?: string;
  flowToken: string;
  mfaCode?: string;
  recoveryCode?: string;
}

const LINK_SESSION_ENDED = () =>
  new UnauthorizedError(
    'The session that started this link has ended, or the account’s password or sign-in settings changed since: sign in and start the link again.',
    'oidc-link-session-ended',
  );

/** Seconds a client waits before retrying when a provider cannot be reached. */
const PROVIDER_RETRY_SECONDS = 5;
/** How long a request to a provider may take. */
const PROVIDER_TIMEOUT_SECONDS = 10;
/**
 * How long a warm function keeps a provider's discovery document and client secret: a rotated secret or
 * key set is picked up within this.
 */
const CONFIGURATION_TTL_MS = 15 * 60_000;
/** Clock tolerance for the ID token's `exp`, `iat` and `nbf` (Lambda clocks are NTP-synchronised). */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Sign-in through OpenID Connect providers (the authorization-code flow with PKCE, `state` and `nonce`),
 * and linking a provider identity to a signed-in account. The issuer, audience, algorithm and lifetime of
 * the ID token are checked against the configured provider, never taken from the token. An identity joins
 * an existing account only through a link flow started by that account's signed-in owner, and only with
 * an address the provider asserts is verified: registering someone's address at a provider first takes
 * nothing over.
 */
export class OidcSignInService {
  private readonly now: () => number;
  private readonly loadClient: () => Promise<typeof OpenIdClient>;
  private readonly configurations = new Map<
    string,
    { at: number; pending: Promise<OpenIdClient.Configuration> }
  >();

  private readonly steps: SignInSteps;

  constructor(private readonly deps: OidcSignInDeps) {
    this.now = deps.now ?? Date.now;
    this.steps = new SignInSteps(deps);
    this.loadClient = deps.loadClient ?? (() => import('openid-client'));
  }

  /** The platform providers people may sign in with (id and name: what a sign-in page shows). */
  async listProviders() {
    return this.deps.providers.platformProviders().map(({ id, name }) => ({ id, name }));
  }

  /**
   * Starts a flow: stores its hashes (single-use, 10 minutes) and answers the provider's authorization URL
   * and the flow token the client must send back with the callback.
   */
  async start(
    ref: OidcProviderRef,
    intent:
      | { kind: 'sign-in' }
      | { kind: 'link'; userId: string; sessionId: string; credentialEpoch: number },
    field: string,
  ) {
    const provider = await this.deps.providers.resolve(ref);
    if (!provider) throw new ValidationError([{ path: field, message: 'No such identity provider' }]);
    const [client, config] = await Promise.all([this.loadClient(), this.configuration(provider)]);
    const secrets = newFlowSecrets();
    const { codeVerifier, nonce } = flowDerivedSecrets(secrets);
    const now = this.now();
    const flow: OidcFlowRecord = {
      stateHash: stateHash(secrets.state),
      flowTokenHash: flowTokenHash(secrets.flowToken),
      providerKey: providerKeyOf(ref),
      intent: intent.kind satisfies OidcIntent,
      ...(intent.kind === 'link'
        ? { userId: intent.userId, sessionId: intent.sessionId, credentialEpoch: intent.credentialEpoch }
        : {}),
      redirectUri: this.deps.redirectUri,
      createdAt: now,
      expiresAt: now + OIDC_FLOW_TTL_SECONDS * 1000,
    };
    await this.deps.oidc.putFlow(flow);
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: flow.redirectUri,
      scope: 'openid email profile',
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: secrets.state,
      nonce,
    });
    return {
      authorizationUrl: authorizationUrl.href,
      flowToken: secrets.flowToken,
      expiresAt: new Date(flow.expiresAt).toISOString(),
      provider: { name: provider.name },
    };
  }

  /**
   * Starts linking a provider identity to the caller's account: a new way into the account, so held to
   * what adding a passkey is: a verified address (whoever registered an address they do not own must not
   * plant a way back in before its owner takes it back), the current password under the sign-in failure
   * budgets, and with a second factor (TOTP or a passkey) an MFA session and a fresh factor. The flow is
   * bound to this session and the account's
   * credential epoch: signing out, a password change or reset before the callback ends it.
   */
  async startLink(
    caller: OidcCaller,
    ref: OidcProviderRef,
    input: { currentPassword: string; mfaCode?: string; recoveryCode?: string; stepUpToken?: string },
    origin: RequestOrigin,
    field: string,
  ) {
    const user = await this.deps.identity.getUser(caller.userId);
    if (!user || caller.kind !== 'session') throw new UnauthorizedError();
    if (user.emailVerifiedAt === undefined) throw new EmailUnverifiedError('link an identity provider');
    // A linked identity is another way in: with a second factor (TOTP or a passkey), only an MFA session with
    // a fresh one of them adds it, as for adding a factor.
    const purpose = { ...origin, purpose: 'oidc.link' };
    const factor = secondFactorOf(input);
    if (hasSecondFactor(user)) await this.deps.secondFactors.requireMfaSession(caller, purpose);
    requireFactorPresence(user, factor, 'Linking an identity provider');
    await requireCurrentPassword(this.deps.secondFactors, user, input.currentPassword, origin);
    if (factor) await this.deps.secondFactors.confirm(caller, factor, purpose);
    return this.start(
      ref,
      { kind: 'link', userId: user.userId, sessionId: caller.credentialId, credentialEpoch: epochOf(user) },
      field,
    );
  }

  /** The provider identities linked to the caller's account (what can sign in to it besides the password). */
  async listIdentities(userId: string) {
    const identities = await this.deps.oidc.listIdentities(userId);
    const names = new Map<string, { name: string; issuer: string } | undefined>(
      this.deps.providers.platformProviders().map((p) => [`platform:${p.id}`, p]),
    );
    // A tenant's own IdP, by its tenant's name (one read per tenant; a user has few).
    for (const key of new Set(identities.map((i) => i.providerKey)))
      if (key.startsWith('tenant:')) names.set(key, await this.deps.providers.resolve(providerRefOf(key)));
    return identities.map((identity) => {
      const provider = names.get(identity.providerKey);
      return {
        identityId: identity.identityId,
        provider: identity.providerKey,
        providerName: provider?.name ?? null,
        email: identity.email,
        linkedAt: identity.linkedAt,
        // False when the provider id now names another issuer (or is gone): the link signs in no more.
        active: provider !== undefined && provider.issuer === identity.issuer,
      };
    });
  }

  /**
   * Removes one of the caller's linked identities (404 for anyone else's): the current password, and an
   * MFA session when the account has a second factor (TOTP or a passkey); the owner is mailed and the removal audited.
   */
  async unlink(
    caller: OidcCaller,
    identityId: string,
    input: { currentPassword: string },
    origin: RequestOrigin,
  ) {
    const user = await this.steps.requireUser(caller.userId);
    if (hasSecondFactor(user))
      await this.deps.secondFactors.requireMfaSession(caller, { ...origin, purpose: 'oidc.unlink' });
    const identity = (await this.deps.oidc.listIdentities(user.userId)).find(
      (i) => i.identityId === identityId,
    );
    if (!identity) throw new NotFoundError('No such linked identity.');
    await requireCurrentPassword(this.deps.secondFactors, user, input.currentPassword, origin);
    const { identityId: _id, ...record } = identity;
    const removed = await this.deps.oidc.unlinkIdentity(
      record satisfies OidcIdentityRecord,
      this.deps.audit.platformPut(
        this.event('auth.sso.unlinked', origin, user.userId, { provider: identity.providerKey, identityId }),
      ),
    );
    if (!removed) throw new NotFoundError('No such linked identity.');
    await this.deps.linkNotice(user, 'sso-unlinked', origin);
  }

  /**
   * Confirms a link mailed to a verified account's owner (`oidc-link-required` sign-ins): the mailed token
   * proves the mailbox, the current password (under the failure budgets) proves the account and that its
   * owner means it — the mail can be set off by anyone holding an identity with that address, so one
   * confused click must not link it — and with TOTP on a code too (as a signed-in link needs an MFA
   * session). The token, the link and `auth.sso.linked` are one transaction, holding only while the account
   * has the address, verified, under the credential epoch the token was issued with; the owner is mailed.
   */
  async confirmMailedLink(
    input: { token: string; currentPassword: string; mfaCode?: string; recoveryCode?: string },
    origin: RequestOrigin,
  ) {
    if (!this.deps.linkMail) throw invalidToken();
    const record = await this.deps.linkMail.redeemLinkToken(input.token);
    const user = await this.deps.identity.getUser(record.userId);
    const link = record.link;
    if (
      !user ||
      !link ||
      link.providerKey.startsWith('tenant:') ||
      user.emailVerifiedAt === undefined ||
      normaliseEmail(user.email) !== record.email ||
      epochOf(user) !== (record.credentialEpoch ?? 0)
    )
      throw invalidToken();
    await requireCurrentPassword(this.deps.secondFactors, user, input.currentPassword, origin);
    if (user.mfaEnabled) {
      const factor = signInFactorOf(input);
      if (!factor)
        throw new ValidationError(
          [{ path: 'body.mfaCode', message: 'MFA is on: send mfaCode or recoveryCode' }],
          'Linking needs a current code when MFA is on.',
        );
      if (!(await this.deps.secondFactors.attempt(user, factor)))
        throw new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code');
    }
    const existing = await this.deps.oidc.getIdentity(link.providerKey, link.issuer, link.subject);
    if (existing)
      throw new ConflictError(
        existing.userId === user.userId
          ? 'This identity is linked to your account already.'
          : 'This identity is linked to another account already.',
        'oidc-identity-linked-elsewhere',
      );
    const linked = await this.deps.oidc.linkIdentityByMail(
      { ...link, userId: user.userId, linkedAt: new Date(this.now()).toISOString() },
      this.deps.identity.mailTokenSpend(record),
      { email: record.email, credentialEpoch: epochOf(user) },
      this.deps.audit.platformPut(
        this.event('auth.sso.linked', origin, user.userId, {
          provider: link.providerKey,
          confirmedBy: 'email',
          tokenId: record.tokenId,
        }),
      ),
    );
    if (!linked) throw invalidToken();
    await this.deps
      .linkNotice(user, 'sso-linked', origin)
      .catch((error: unknown) => logger.error('sso-linked notice failed', { userId: user.userId, error }));
    return { outcome: 'linked' as const, provider: link.providerKey, user: publicUser(user) };
  }

  /**
   * Finishes a flow: spends its state, exchanges the code and verifies the ID token, then signs in (a
   * linked identity, or a new account from a verified address nobody has), or links (a link flow).
   */
  async callback(input: OidcCallbackInput, origin: RequestOrigin) {
    const flow = await this.deps.oidc.consumeFlow(
      stateHash(input.state),
      flowTokenHash(input.flowToken),
      this.now(),
    );
    if (!flow) {
      await this.recordFailure(origin, undefined, 'sso-state-invalid', undefined);
      throw new HttpProblemError(400, 'oidc-state-invalid', 'Bad Request', {
        detail:
          'This sign-in is unknown, was used already, has expired, or was started elsewhere: start it again.',
        errors: [{ path: 'body.state', message: 'Unknown, used or expired' }],
      });
    }
    const ref = providerRefOf(flow.providerKey);
    const provider = await this.deps.providers.resolve(ref);
    if (!provider)
      throw new ConflictError('The identity provider is no longer configured.', 'oidc-provider-gone');
    const linkingUser = flow.intent === 'link' ? await this.deps.identity.getUser(flow.userId!) : undefined;
    const claims = await this.verify(provider, flow, input).catch(async (error: unknown) => {
      if (error instanceof HttpProblemError && error.status === 401)
        await this.recordFailure(origin, linkingUser, 'sso-token-rejected', flow.providerKey);
      throw error;
    });
    if (provider.allowedDomains) await this.requireAllowedDomain(provider, claims, origin, linkingUser);
    if (flow.intent === 'link') {
      if (!linkingUser) throw new UnauthorizedError();
      return this.link(linkingUser, flow, provider, claims, origin);
    }
    return this.signIn(flow.providerKey, provider, claims, input, origin);
  }

  /**
   * A tenant's IdP speaks for its allowed domains only: every sign-in, sign-up and link through it needs a
   * verified address of one of them (403 `oidc-domain-not-allowed`, recorded, nothing written).
   */
  private async requireAllowedDomain(
    provider: ResolvedOidcProvider,
    claims: OidcIdentityClaims,
    origin: RequestOrigin,
    linkingUser: UserRecord | undefined,
  ) {
    const allowed = provider.allowedDomains ?? [];
    if (claims.email && claims.emailVerified && allowed.includes(emailDomainOf(claims.email))) return;
    await this.recordFailure(origin, linkingUser, 'sso-domain-not-allowed', providerKeyOf(provider.ref));
    throw new ForbiddenError(
      'This identity provider may only sign in verified addresses of the domains its tenant allows.',
      'oidc-domain-not-allowed',
    );
  }

  /** The code exchanged and the ID token verified against the configured provider, or 401. */
  private async verify(
    provider: ResolvedOidcProvider,
    flow: OidcFlowRecord,
    input: OidcCallbackInput,
  ): Promise<OidcIdentityClaims> {
    const [client, config] = await Promise.all([this.loadClient(), this.configuration(provider)]);
    const { codeVerifier, nonce } = flowDerivedSecrets({ state: input.state, flowToken: input.flowToken });
    const callbackUrl = new URL(flow.redirectUri);
    callbackUrl.search = '';
    callbackUrl.searchParams.set('code', input.code);
    callbackUrl.searchParams.set('state', input.state);
    if (input.iss !== undefined) callbackUrl.searchParams.set('iss', input.iss);
    let tokens: Awaited<ReturnType<typeof OpenIdClient.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: codeVerifier,
        expectedState: input.state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw this.providerError(provider, error);
    }
    const payload = tokens.claims();
    // openid-client compared these with the configured provider already; checked again here so a change
    // of library defaults cannot let a token from elsewhere through.
    const audience = payload?.aud === undefined ? [] : [payload.aud].flat();
    if (!payload || payload.iss !== provider.issuer || !audience.includes(provider.clientId)) {
      throw new UnauthorizedError(
        'The identity provider returned a token for someone else.',
        'oidc-token-rejected',
      );
    }
    const claims = identityClaimsOf(payload as Record<string, unknown>);
    if (!claims)
      throw new UnauthorizedError('The identity provider sent no usable subject.', 'oidc-token-rejected');
    return claims;
  }

  /** A sign-in flow's ending: a linked identity's account, or a new one. */
  private async signIn(
    providerKey: string,
    provider: ResolvedOidcProvider,
    claims: OidcIdentityClaims,
    factor: { mfaCode?: string; recoveryCode?: string },
    origin: RequestOrigin,
  ) {
    const { identity, oidc } = this.deps;
    // Keyed by issuer and subject, so a provider id now pointing at another issuer finds none of the old
    // links; the stored issuer is compared all the same.
    const linked = await oidc.getIdentity(providerKey, provider.issuer, claims.sub);
    if (linked) {
      if (linked.issuer !== provider.issuer) {
        await this.recordFailure(origin, undefined, 'sso-token-rejected', providerKey);
        throw new UnauthorizedError(
          'This identity was linked through another issuer; it signs in no more.',
          'oidc-token-rejected',
        );
      }
      const user = await identity.getUser(linked.userId);
      if (!user) throw new UnauthorizedError();
      return this.startSession(user, providerKey, factor, origin);
    }
    const email = claims.email === undefined ? undefined : normaliseEmail(claims.email);
    if (!email || !claims.emailVerified) {
      await this.recordFailure(origin, undefined, 'sso-email-unverified', providerKey);
      throw new ForbiddenError(
        'The identity provider did not confirm that this e-mail address is verified, so no account is made ' +
          'from it: verify it at the provider, or register with a password.',
        'oidc-email-unverified',
      );
    }
    const existingId = await identity.getUserIdByEmail(email);
    if (existingId) {
      const existing = await identity.getUser(existingId);
      await this.recordFailure(origin, existing, 'sso-link-required', providerKey);
      // A verified account is mailed a link to confirm (unverified ones never: whoever registered one never
      // proved the address). The answer is the same whether a mail went out or not. Never for a tenant's
      // own provider: its name and domains are whatever a tenant owner typed ("Google", the victim's
      // domain), so a genuine mail naming it could talk the address's owner into linking the owner's IdP.
      const tenantProvider = providerKey.startsWith('tenant:');
      if (existing && this.deps.linkMail && !tenantProvider)
        await this.deps.linkMail.mailLinkConfirmation(
          existing,
          { providerKey, issuer: provider.issuer, subject: claims.sub, email },
          provider.name,
          origin,
        );
      throw new ConflictError(
        'An account with this e-mail address exists already. Sign in to it the way you usually do, then ' +
          'link this identity provider from your account settings' +
          (tenantProvider
            ? '.'
            : '; if the account’s address is verified, a link to confirm linking is also on its way to it.'),
        'oidc-link-required',
      );
    }
    const user: UserRecord = {
      userId: newId('u'),
      email,
      name: displayNameOf(claims, email),
      // A password nobody knows: the account signs in through its provider (or sets one by a reset
      // mailed to the address), and a password sign-in costs the same hash as for anyone.
      passwordHash: await hashPassword(newSecret()),
      createdAt: new Date(this.now()).toISOString(),
      mfaEnabled: false,
      // A platform provider's word that the address is verified is proof enough for a new account. A
      // tenant's own provider is run by that tenant's owner, who chose its allowed domains without proving
      // they own them: its accounts stay unverified (no tenants of their own, no other tenant's
      // invitations) until their mailbox proves the address; they take their own tenant's invitations
      // through sessions of that provider (InvitationService).
      ...(providerKey.startsWith('tenant:') ? {} : { emailVerifiedAt: new Date(this.now()).toISOString() }),
    };
    // The account, its address, its link, its device, its first session, the sign-in's audit event and
    // history entry: one transaction, so a fault leaves neither an account without a session nor the reverse.
    return this.startSession(user, providerKey, factor, origin, [
      ...identity.newUserPuts(user, email),
      oidc.identityPut({
        providerKey,
        issuer: provider.issuer,
        subject: claims.sub,
        userId: user.userId,
        email,
        linkedAt: user.createdAt,
      }),
      identity.signIns.devicePut(user.userId, deviceFingerprint(origin.userAgent, origin.ip)),
    ]);
  }

  /**
   * Links an identity to the signed-in user who started the flow: only while the session that started it
   * exists and the account's credential epoch has not moved since (checked here and again in the write).
   */
  private async link(
    user: UserRecord,
    flow: OidcFlowRecord,
    provider: ResolvedOidcProvider,
    claims: OidcIdentityClaims,
    origin: RequestOrigin,
  ) {
    const { oidc, identity } = this.deps;
    const { providerKey } = flow;
    const startedBy =
      flow.sessionId !== undefined && flow.credentialEpoch !== undefined
        ? { sessionId: flow.sessionId, credentialEpoch: flow.credentialEpoch }
        : undefined;
    const session = startedBy && (await identity.getSession(startedBy.sessionId));
    if (!startedBy || session?.userId !== user.userId || epochOf(user) !== startedBy.credentialEpoch)
      throw LINK_SESSION_ENDED();
    if (!claims.email || !claims.emailVerified) {
      await this.recordFailure(origin, user, 'sso-email-unverified', providerKey);
      throw new ForbiddenError(
        'The identity provider did not confirm that its e-mail address is verified; it cannot be linked.',
        'oidc-email-unverified',
      );
    }
    const existing = await oidc.getIdentity(providerKey, provider.issuer, claims.sub);
    if (existing && existing.userId !== user.userId) {
      throw new ConflictError(
        'This identity is linked to another account already.',
        'oidc-identity-linked-elsewhere',
      );
    }
    if (!existing) {
      const linked = await oidc.linkIdentity(
        {
          providerKey,
          issuer: provider.issuer,
          subject: claims.sub,
          userId: user.userId,
          email: normaliseEmail(claims.email),
          linkedAt: new Date(this.now()).toISOString(),
        },
        startedBy,
        this.deps.audit.platformPut(
          this.event('auth.sso.linked', origin, user.userId, { provider: providerKey }),
        ),
      );
      if (!linked) {
        // Linked by a racing callback, or the session ended or the credentials changed meanwhile.
        if (await oidc.getIdentity(providerKey, provider.issuer, claims.sub))
          throw new ConflictError('This identity was linked meanwhile.', 'oidc-identity-linked-elsewhere');
        throw LINK_SESSION_ENDED();
      }
      // The link stands whether or not the notice goes out; a failed notice is logged.
      await this.deps
        .linkNotice(user, 'sso-linked', origin)
        .catch((error: unknown) => logger.error('sso-linked notice failed', { userId: user.userId, error }));
    }
    return { outcome: 'linked' as const, user: publicUser(user) };
  }

  /**
   * A session for `user`, authenticated by the provider. An account with TOTP on still needs its code (or
   * a recovery code): the provider is one factor, whoever controls the account there.
   */
  private async startSession(
    user: UserRecord,
    providerKey: string,
    input: { mfaCode?: string; recoveryCode?: string },
    origin: RequestOrigin,
    /** The items that create `user`'s account, when the sign-in makes it (see SignInSteps.startSession). */
    createdWith?: TransactItem[],
  ) {
    const { identity } = this.deps;
    let method: AuthMethod = 'sso';
    if (user.mfaEnabled) {
      const factor = signInFactorOf(input);
      if (!factor) {
        await identity.signIns.record(this.steps.attempt(user, origin, 'sso', 'second-factor-required'));
        throw new UnauthorizedError(
          'Multi-factor authentication is on for this account: sign in through the provider again and send ' +
            'mfaCode or recoveryCode with the callback.',
          'mfa-required',
        );
      }
      method = factor.mfaCode !== undefined ? 'sso+totp' : 'sso+recovery-code';
      // Under the account-wide TOTP budgets (429 once spent), as at a password sign-in.
      if (!(await this.deps.secondFactors.attempt(user, factor))) {
        await this.steps.recordFailure(origin, user, { method, reason: 'bad-second-factor' });
        throw new UnauthorizedError('The code is wrong or was used already.', 'invalid-mfa-code');
      }
    }
    const started = await this.steps.startSession(user, origin, {
      method,
      // The provider is one factor: only a code shown here makes this an MFA session.
      mfa: method !== 'sso',
      ssoProvider: providerKey,
      details: { provider: providerKey },
      ...(createdWith ? { createdWith } : {}),
    });
    if (!started && createdWith) {
      // Another callback made the account (or claimed the address, or linked the identity) meanwhile:
      // nothing was written here.
      throw new ConflictError('This account was created meanwhile; sign in again.', 'oidc-sign-in-raced');
    }
    if (!started) {
      throw new UnauthorizedError(
        'The sign-in settings of this account changed during sign-in; sign in again.',
        'credentials-changed',
      );
    }
    await this.steps.noticeNewDevice(user, origin, async () => {
      await this.deps.newDevice?.(user, origin);
    });
    return {
      outcome: 'signed-in' as const,
      token: started.token,
      expiresAt: started.expiresAt,
      user: publicUser(user),
    };
  }

  /**
   * A refused SSO attempt: a platform audit event, and an entry in the history of the account it concerns
   * when one is known (the owner should see that someone tried).
   */
  private async recordFailure(
    origin: RequestOrigin,
    user: UserRecord | undefined,
    reason: SignInFailureReason,
    providerKey: string | undefined,
  ) {
    await this.steps.recordFailure(origin, user, {
      method: 'sso',
      reason,
      details: providerKey ? { provider: providerKey } : {},
    });
  }

  private event(
    action: AuditEventInput['action'],
    origin: RequestOrigin,
    userId: string,
    details: Record<string, unknown>,
  ): AuditEventInput {
    return { ...this.steps.event(action, origin, userId, { type: 'user', id: userId }), details };
  }

  /**
   * The provider's configuration from its discovery document, fetched once per warm function. openid-client
   * refuses a document whose `issuer` is not exactly the configured one; the client is pinned to the
   * configured client id (the audience) and algorithm. Plain HTTP only for a loopback issuer.
   */
  private configuration(provider: ResolvedOidcProvider): Promise<OpenIdClient.Configuration> {
    const cacheKey = JSON.stringify([providerKeyOf(provider.ref), provider.issuer, provider.clientId]);
    const cached = this.configurations.get(cacheKey);
    if (cached && this.now() - cached.at < CONFIGURATION_TTL_MS) return cached.pending;
    {
      const pending = (async () => {
        const client = await this.loadClient();
        const secret = await provider.clientSecret();
        try {
          return await client.discovery(
            new URL(provider.issuer),
            provider.clientId,
            {
              client_secret: secret,
              id_token_signed_response_alg: provider.algorithm,
              [client.clockTolerance]: CLOCK_TOLERANCE_SECONDS,
            },
            client.ClientSecretBasic(secret),
            {
              timeout: PROVIDER_TIMEOUT_SECONDS,
              ...(provider.fetch ? { [client.customFetch]: provider.fetch } : {}),
              ...(isLoopbackIssuer(provider.issuer) ? { execute: [client.allowInsecureRequests] } : {}),
            },
          );
        } catch (error) {
          throw this.providerError(provider, error, true);
        }
      })();
      this.configurations.set(cacheKey, { at: this.now(), pending });
      // A failed discovery is not kept: the next flow tries again.
      pending.catch(() => this.configurations.delete(cacheKey));
      return pending;
    }
  }

  /**
   * 503 when the provider could not be reached (nothing changed; try again), 401 when it answered with
   * something that does not verify. The library's message is logged, never returned.
   */
  private providerError(provider: ResolvedOidcProvider, error: unknown, discovery = false): Error {
    if (error instanceof HttpProblemError) return error;
    const unreachable = causes(error).some(
      (e) =>
        (e instanceof TypeError && /fetch failed/i.test(e.message)) ||
        ['AbortError', 'TimeoutError'].includes((e as Error)?.name) ||
        ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT'].includes(
          (e as { code?: string })?.code ?? '',
        ),
    );
    logger.warn('oidc provider error', {
      provider: providerKeyOf(provider.ref),
      unreachable,
      discovery,
      code: (error as { code?: string })?.code,
      message: (error as Error)?.message,
    });
    if (unreachable || discovery) {
      return new ServiceUnavailableError(
        PROVIDER_RETRY_SECONDS,
        'The identity provider could not be reached; nothing was changed. Try again.',
        error,
      );
    }
    return new UnauthorizedError(
      'The identity provider’s answer did not verify (issuer, audience, signature, nonce or lifetime); no one was signed in.',
      'oidc-token-rejected',
    );
  }
}

/** An error and its causes. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  return chain;
}
