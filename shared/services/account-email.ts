import { hashPassword } from '../crypto/passwords.js';
import { actorOf, type RequestOrigin } from '../domain/caller.js';
import {
  hashSecret,
  MAIL_TOKEN_PATTERN,
  newSecret,
  normaliseEmail,
  secretMatches,
} from '../domain/credentials.js';
import { newId } from '../domain/ids.js';
import { ConflictError, ForbiddenError, HttpProblemError, TooManyRequestsError } from '../errors.js';
import { deliver } from '../mail/deliver.js';
import type { Mailer, MailMessage } from '../mail/mailer.js';
import {
  type AccountChange,
  accountNoticeMail,
  alreadyRegisteredMail,
  type MailLinks,
  passwordResetMail,
  ssoLinkConfirmationMail,
  verificationMail,
} from '../mail/templates.js';
import { logger } from '../observability.js';
import type { AuditRecorder } from '../store/audit-recorder.js';
import type { UserRecord } from '../store/identity-records.js';
import { epochOf } from '../store/identity-records.js';
import type {
  IdentityStore,
  MailTokenPurpose,
  MailTokenRecord,
  PendingLink,
} from '../store/identity-store.js';
import type { RateLimiter } from '../store/rate-limiter.js';

/** A verification link works this long. */
export const VERIFICATION_LIFETIME_MS = 24 * 3_600_000;
/** A password reset link works this long. */
export const RESET_LIFETIME_MS = 30 * 60_000;
/**
 * Reset requests per address, whoever asks (counted for unknown addresses too, so the limit says nothing
 * about whether an account exists).
 */
export const RESET_ADDRESS_LIMIT = { name: 'password-reset-address', limit: 3, windowSeconds: 3600 } as const;
/** A link-confirmation link (an OIDC identity joining the account with its address) works this long. */
export const LINK_LIFETIME_MS = 30 * 60_000;
/**
 * Link-confirmation mails per address, like reset requests: an OIDC sign-in with someone's address mails
 * them at most this often (further attempts are answered alike and mail nothing).
 */
export const LINK_ADDRESS_LIMIT = { name: 'sso-link-address', limit: 3, windowSeconds: 3600 } as const;

/**
 * A reset request is answered no sooner than this after it arrived, whether or not a mail was sent: the
 * time SES takes must not tell who has an account.
 */
export const RESET_ANSWER_FLOOR_MS = 800;

/** The one answer to every reset request. */
export const RESET_REQUESTED = {
  message:
    'If an account has this address, a link to reset its password is on its way; it works once, for 30 minutes.',
} as const;

/** The one answer to an unknown, spent, expired or mismatched token: which of these it was is not told. */
export function invalidToken(): HttpProblemError {
  return new HttpProblemError(400, 'invalid-token', 'Bad Request', {
    detail: 'This link is not valid: it was used already, has expired, or was replaced. Ask for a new one.',
    errors: [{ path: 'body.token', message: 'Not a valid link token' }],
  });
}

export interface AccountEmailDeps {
  identity: IdentityStore;
  audit: AuditRecorder;
  mailer: Mailer;
  links: MailLinks;
  rateLimiter: RateLimiter;
  now?: () => number;
  /** @default RESET_ANSWER_FLOOR_MS */
  resetAnswerFloorMs?: number;
}

/** A token about to be mailed: its record (hash only) and the string that goes into the link. */
export interface IssuedToken {
  record: MailTokenRecord;
  token: string;
}

/**
 * What Strongroom mails to account owners: address verification, password reset and security notices.
 * Every mail with a token is sent before the token is stored, so a failed send leaves no token anyone
 * could use and no answer that claims a mail went out; a token stored after a send that succeeded works.
 */
export class AccountEmailService {
  readonly #d: AccountEmailDeps;
  readonly #now: () => number;

  constructor(deps: AccountEmailDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  get links(): MailLinks {
    return this.#d.links;
  }

  /** A fresh token for `user` (not stored yet). */
  issue(user: UserRecord, purpose: MailTokenPurpose): IssuedToken {
    const now = this.#now();
    const tokenId = newId('m', now);
    const secret = newSecret();
    const record: MailTokenRecord = {
      tokenId,
      purpose,
      userId: user.userId,
      email: normaliseEmail(user.email),
      secretHash: hashSecret(secret),
      createdAt: new Date(now).toISOString(),
      expiresAt:
        now +
        (purpose === 'password-reset'
          ? RESET_LIFETIME_MS
          : purpose === 'sso-link'
            ? LINK_LIFETIME_MS
            : VERIFICATION_LIFETIME_MS),
      ...(purpose !== 'verify-email' ? { credentialEpoch: epochOf(user) } : {}),
    };
    return { record, token: `${tokenId}.${secret}` };
  }

  verificationMessage(user: UserRecord, issued: IssuedToken): MailMessage {
    return verificationMail(this.#d.links, user.email, issued.token, VERIFICATION_LIFETIME_MS / 3_600_000);
  }

  /**
   * The mail a registration sends before anything is written: a verification link for a new address, or,
   * for a taken one, a notice to its owner that someone tried. Answers the verification token to store with
   * the account (issued alike for a taken address, whose transaction then writes nothing).
   */
  async mailRegistration(user: UserRecord, taken: boolean): Promise<IssuedToken> {
    const issued = this.issue(user, 'verify-email');
    await this.send(
      taken ? alreadyRegisteredMail(this.#d.links, user.email) : this.verificationMessage(user, issued),
      'body.email',
    );
    return issued;
  }

  /**
   * Sends a message; a carrier failure becomes a 503 that says nothing was sent, or, when the address is the
   * request's field `field` and the carrier refuses it for good, a 400 naming the field.
   */
  async send(message: MailMessage, field?: string): Promise<void> {
    await deliver(this.#d.mailer, message, field);
  }

  /** Mails a new verification link to a signed-in user whose address is not verified yet. */
  async resendVerification(userId: string, origin: RequestOrigin): Promise<{ message: string }> {
    const user = await this.#d.identity.getUser(userId);
    if (!user) throw new ForbiddenError();
    if (user.emailVerifiedAt !== undefined)
      throw new ConflictError('Your e-mail address is verified already.', 'email-already-verified');
    const issued = this.issue(user, 'verify-email');
    await this.send(this.verificationMessage(user, issued));
    await this.#d.identity.putMailToken(
      issued.record,
      this.#d.audit.platformPut({
        action: 'auth.email.verification-sent',
        actor: actorOf(origin, user.userId),
        resource: { type: 'user', id: user.userId },
        details: {
          tokenId: issued.record.tokenId,
          expiresAt: new Date(issued.record.expiresAt).toISOString(),
        },
      }),
    );
    return { message: `A new verification link is on its way to ${user.email}.` };
  }

  /** Verifies the address a token was sent to. */
  async confirmVerification(
    token: string,
    origin: RequestOrigin,
  ): Promise<{ email: string; verifiedAt: string }> {
    const record = await this.#redeemable(token, 'verify-email');
    const at = new Date(this.#now()).toISOString();
    const done = await this.#d.identity.verifyEmail(
      record,
      at,
      this.#d.audit.platformPut({
        action: 'auth.email.verified',
        actor: actorOf(origin, record.userId),
        resource: { type: 'user', id: record.userId },
        details: { tokenId: record.tokenId, email: record.email },
      }),
    );
    if (!done) throw invalidToken();
    return { email: record.email, verifiedAt: at };
  }

  /**
   * Mails a reset link if the address has an account. The answer, the rate limits and the time taken are
   * the same whether or not it has one.
   */
  async requestReset(input: { email: string }, origin: RequestOrigin): Promise<typeof RESET_REQUESTED> {
    const started = this.#now();
    const email = normaliseEmail(input.email);
    try {
      await this.#d.rateLimiter.consume(
        RESET_ADDRESS_LIMIT.name,
        hashSecret(email),
        RESET_ADDRESS_LIMIT.limit,
        RESET_ADDRESS_LIMIT.windowSeconds,
      );
      const userId = await this.#d.identity.getUserIdByEmail(email);
      const user = userId ? await this.#d.identity.getUser(userId) : undefined;
      if (!user) {
        await this.#d.audit.recordPlatform({
          action: 'auth.password-reset.requested',
          actor: actorOf(origin),
          resource: { type: 'user', id: 'unknown' },
          details: { known: false },
        });
        return RESET_REQUESTED;
      }
      const issued = this.issue(user, 'password-reset');
      await this.send(passwordResetMail(this.#d.links, user.email, issued.token, RESET_LIFETIME_MS / 60_000));
      await this.#d.identity.putMailToken(
        issued.record,
        this.#d.audit.platformPut({
          action: 'auth.password-reset.requested',
          actor: actorOf(origin, user.userId),
          resource: { type: 'user', id: user.userId },
          details: {
            known: true,
            tokenId: issued.record.tokenId,
            expiresAt: new Date(issued.record.expiresAt).toISOString(),
          },
        }),
      );
      return RESET_REQUESTED;
    } finally {
      const wait = started + (this.#d.resetAnswerFloorMs ?? RESET_ANSWER_FLOOR_MS) - this.#now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Sets a new password with a reset token: every session of the account ends, and every other reset
   * token stops working. MFA stays as it is (signing in still asks for the code), except on an account
   * whose address was never verified: there, whoever turned MFA on never proved they own the address, and
   * the owner who just did must not be locked out by them. For the same reason a reset on an unverified
   * account also deletes its passkeys and linked provider identities (in the same transaction): whoever
   * added them never proved the address either (a pre-account takeover would keep its way back in).
   * Every reset, verified or not, also deletes the links to tenants' own providers: such a provider is run
   * by a tenant's owner, who can assert any address of its domains, so it is the one way in a third party
   * holds; a reset is how an owner takes the account back, and afterwards only the ways in they chose
   * themselves remain (the next sign-in through the organisation's provider answers `oidc-link-required`, and
   * the owner links it again from a signed-in session; no link is mailed for a tenant's provider).
   */
  async confirmReset(
    input: { token: string; newPassword: string },
    origin: RequestOrigin,
  ): Promise<{ revokedSessions: number; mfaEnabled: boolean }> {
    const record = await this.#redeemable(input.token, 'password-reset');
    const user = await this.#d.identity.getUser(record.userId);
    if (!user) throw invalidToken();
    const unverified = user.emailVerifiedAt === undefined;
    const clearMfa = user.mfaEnabled && unverified;
    const outcome = await this.#d.identity.resetPassword(
      record,
      {
        passwordHash: await hashPassword(input.newPassword),
        at: new Date(this.#now()).toISOString(),
        clearMfa,
        expectedMfa: user.mfaEnabled,
        removeSignInMethods: unverified,
        removeTenantProviderLinks: true,
      },
      this.#d.audit.platformPut({
        action: 'auth.password-reset.completed',
        actor: actorOf(origin, user.userId),
        resource: { type: 'user', id: user.userId },
        details: {
          tokenId: record.tokenId,
          mfaCleared: clearMfa,
          signInMethodsCleared: unverified,
          tenantProviderLinksCleared: true,
        },
      }),
    );
    if (!outcome.reset) throw invalidToken();
    await this.notify(user, 'password-reset', origin);
    return { revokedSessions: outcome.revokedSessions, mfaEnabled: user.mfaEnabled && !clearMfa };
  }

  /**
   * Mails the owner of a verified account a one-time link to confirm linking `link` (an OIDC sign-in that
   * asserted the account's address). Nothing happens for an unverified account (whoever registered it never
   * proved the address: the pre-account takeover), nor past LINK_ADDRESS_LIMIT; the caller answers alike
   * either way. The mail goes only to the account's own address; the token is stored as a hash after the
   * mail was sent. A carrier failure is logged, not answered: the answer must not tell more than it does.
   */
  async mailLinkConfirmation(
    user: UserRecord,
    link: PendingLink,
    providerName: string,
    origin: RequestOrigin,
  ): Promise<boolean> {
    if (user.emailVerifiedAt === undefined || normaliseEmail(user.email) !== link.email) return false;
    try {
      await this.#d.rateLimiter.consume(
        LINK_ADDRESS_LIMIT.name,
        hashSecret(normaliseEmail(user.email)),
        LINK_ADDRESS_LIMIT.limit,
        LINK_ADDRESS_LIMIT.windowSeconds,
      );
    } catch (error) {
      if (error instanceof TooManyRequestsError) return false;
      throw error;
    }
    const issued = this.issue(user, 'sso-link');
    issued.record.link = link;
    try {
      await this.send(
        ssoLinkConfirmationMail(
          this.#d.links,
          user.email,
          issued.token,
          LINK_LIFETIME_MS / 60_000,
          providerName,
        ),
      );
    } catch (error) {
      logger.error('sso link confirmation not sent', {
        userId: user.userId,
        error: (error as Error).message,
      });
      return false;
    }
    await this.#d.identity.putMailToken(
      issued.record,
      this.#d.audit.platformPut({
        action: 'auth.sso.link-requested',
        actor: actorOf(origin, user.userId),
        resource: { type: 'user', id: user.userId },
        details: {
          provider: link.providerKey,
          tokenId: issued.record.tokenId,
          expiresAt: new Date(issued.record.expiresAt).toISOString(),
        },
      }),
    );
    return true;
  }

  /** The stored `sso-link` token a presented one names; the one invalid-token answer otherwise. */
  redeemLinkToken(token: string): Promise<MailTokenRecord> {
    return this.#redeemable(token, 'sso-link');
  }

  /**
   * A security notice to the account's address, after the change it reports is done: a failure to send
   * it is logged and does not undo or fail the change.
   */
  async notify(user: Pick<UserRecord, 'userId' | 'email'>, change: AccountChange, origin: RequestOrigin) {
    try {
      await this.#d.mailer.send(
        accountNoticeMail(this.#d.links, user.email, change, { at: new Date(this.#now()), ...origin }),
      );
    } catch (error) {
      logger.error('security notice not sent', {
        change,
        userId: user.userId,
        error: (error as Error).message,
      });
    }
  }

  /**
   * The stored token a presented one names, if the secret matches (compared in constant time), it is for
   * `purpose` and unexpired; the one invalid-token answer otherwise.
   */
  async #redeemable(token: string, purpose: MailTokenPurpose): Promise<MailTokenRecord> {
    if (!MAIL_TOKEN_PATTERN.test(token)) throw invalidToken();
    const [tokenId, secret] = token.split('.') as [string, string];
    const record = await this.#d.identity.getMailToken(tokenId);
    // The hash is compared even for an unknown id, so both cost the same.
    const matches = secretMatches(secret, record?.secretHash ?? '0'.repeat(64));
    if (!record || !matches || record.purpose !== purpose || record.expiresAt < this.#now())
      throw invalidToken();
    return record;
  }
}
