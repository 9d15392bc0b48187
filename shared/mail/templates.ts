import type { MailMessage } from './mailer.js';

/**
 * The mails Strongroom sends, as plain text with an HTML alternative. Each carries at most one secret, the
 * one-time link of a verification or reset; notices carry none. Links point at the console (its base URL
 * from configuration, never from the request), with the token in the fragment: a browser never sends the
 * fragment to a server, so the token stays out of access logs and Referer headers.
 */

/** Where mail links point: the console's base URL, e.g. `https://strongroom.example.com/console/`. */
export interface MailLinks {
  consoleUrl: string;
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** The console URL of a screen (`/verify-email/<token>`), from the configured base. */
export function consoleLink(links: MailLinks, screen: string): string {
  const base = links.consoleUrl.endsWith('/') ? links.consoleUrl : `${links.consoleUrl}/`;
  return `${base}#${screen}`;
}

interface Parts {
  to: string;
  subject: string;
  /** Paragraphs of plain text (no markup); each is escaped into the HTML. */
  paragraphs: string[];
  action?: { label: string; url: string };
}

function compose({ to, subject, paragraphs, action }: Parts): MailMessage {
  const text = [...paragraphs, ...(action ? [`${action.label}:\n${action.url}`] : [])].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(action
      ? [
          `<p><a href="${escapeHtml(action.url)}">${escapeHtml(action.label)}</a></p>`,
          `<p style="color:#555;font-size:90%">Or copy this address into your browser: ${escapeHtml(action.url)}</p>`,
        ]
      : []),
    '<p style="color:#555;font-size:90%">Strongroom</p>',
    '</body></html>',
  ].join('\n');
  return { to, subject, text: `${text}\n\n-- \nStrongroom\n`, html };
}

const IGNORE = 'If this was not you, you can ignore this message.';

export function verificationMail(
  links: MailLinks,
  to: string,
  token: string,
  validHours: number,
): MailMessage {
  return compose({
    to,
    subject: 'Verify your e-mail address for Strongroom',
    paragraphs: [
      `Someone created a Strongroom account with this address (${to}), or asked for a new verification link.`,
      `Open the link below to confirm that the address is yours. It works once, for ${validHours} hours.`,
      IGNORE,
    ],
    action: { label: 'Verify my address', url: consoleLink(links, `/verify-email/${token}`) },
  });
}

export function alreadyRegisteredMail(links: MailLinks, to: string): MailMessage {
  return compose({
    to,
    subject: 'Someone tried to create a Strongroom account with your address',
    paragraphs: [
      `Someone tried to create a Strongroom account with this address (${to}), which already has one. Nothing was changed.`,
      'If it was you: sign in instead, or reset your password if you have forgotten it.',
      IGNORE,
    ],
    action: { label: 'Sign in', url: consoleLink(links, '/') },
  });
}

export function passwordResetMail(
  links: MailLinks,
  to: string,
  token: string,
  validMinutes: number,
): MailMessage {
  return compose({
    to,
    subject: 'Reset your Strongroom password',
    paragraphs: [
      'Someone asked to reset the password of the Strongroom account with this address.',
      `Open the link below to choose a new password. It works once, for ${validMinutes} minutes. Resetting signs out every session of the account; if multi-factor authentication is on, signing in still asks for your code.`,
      'If this was not you, ignore this message: your password stays as it is.',
    ],
    action: { label: 'Choose a new password', url: consoleLink(links, `/reset-password/${token}`) },
  });
}

/**
 * Asks the owner of an account to confirm linking a provider identity that signed in with the account's
 * address. The only secret is the one-time link; the provider's name and the asserted address are shown so
 * the owner can tell whether it was them.
 */
export function ssoLinkConfirmationMail(
  links: MailLinks,
  to: string,
  token: string,
  validMinutes: number,
  providerName: string,
): MailMessage {
  return compose({
    to,
    subject: `Confirm signing in to Strongroom with ${providerName}`,
    paragraphs: [
      `Someone signed in through ${providerName} with this address (${to}), which belongs to an existing Strongroom account.`,
      `If it was you, open the link below and enter your Strongroom password to link ${providerName} to your account; from then on it signs you in. The link works once, for ${validMinutes} minutes.`,
      `If this was not you, ignore this message: nothing is linked unless you confirm, and someone else may have registered your address at ${providerName}.`,
    ],
    action: { label: `Link ${providerName}`, url: consoleLink(links, `/confirm-sso-link/${token}`) },
  });
}

/** What changed, for a security notice. */
export type AccountChange =
  | 'password-changed'
  | 'password-reset'
  | 'mfa-enrolled'
  | 'mfa-removed'
  | 'passkey-added'
  | 'passkey-removed'
  | 'sso-linked'
  | 'sso-unlinked'
  | 'new-device-sign-in';

const CHANGE_TEXT: Record<AccountChange, { subject: string; what: string }> = {
  'password-changed': {
    subject: 'Your Strongroom password was changed',
    what: 'The password of your account was changed.',
  },
  'password-reset': {
    subject: 'Your Strongroom password was reset',
    what: 'The password of your account was reset through a link sent to this address; every session was signed out.',
  },
  'mfa-enrolled': {
    subject: 'Multi-factor authentication was turned on',
    what: 'Multi-factor authentication (an authenticator app) was turned on for your account.',
  },
  'mfa-removed': {
    subject: 'Multi-factor authentication was turned off',
    what: 'Multi-factor authentication was turned off for your account.',
  },
  'passkey-added': {
    subject: 'A passkey was added to your Strongroom account',
    what: 'A passkey was added to your account: it can now sign in without the password. Every other session was signed out.',
  },
  'passkey-removed': {
    subject: 'A passkey was removed from your Strongroom account',
    what: 'A passkey was removed from your account and can no longer sign in. Every other session was signed out.',
  },
  'sso-linked': {
    subject: 'An identity provider was linked to your Strongroom account',
    what: 'An account at an identity provider was linked to your account: it can now sign in through that provider. You can see and remove linked providers in the console under Account.',
  },
  'sso-unlinked': {
    subject: 'An identity provider was unlinked from your Strongroom account',
    what: 'An account at an identity provider was unlinked from your account: it can no longer sign in through that provider.',
  },
  'new-device-sign-in': {
    subject: 'New sign-in to your Strongroom account',
    what: 'Your account was signed in to from a device or network it has not used in the last 90 days.',
  },
};

/** A security notice: what changed, when, from where; no link that acts on the account. */
export function accountNoticeMail(
  links: MailLinks,
  to: string,
  change: AccountChange,
  context: { at: Date; ip: string; userAgent: string },
): MailMessage {
  const { subject, what } = CHANGE_TEXT[change];
  return compose({
    to,
    subject,
    paragraphs: [
      what,
      `When: ${context.at.toISOString()}\nFrom address: ${context.ip}\nBrowser or program: ${context.userAgent.slice(0, 200) || 'unknown'}`,
      'If this was you, there is nothing to do. If it was not, reset your password now and review your sessions and multi-factor settings in the console.',
    ],
    action: { label: 'Open the console', url: consoleLink(links, '/') },
  });
}

export function invitationMail(
  links: MailLinks,
  to: string,
  invitation: {
    tenantName: string;
    role: string;
    inviterName: string;
    inviterEmail: string;
    expiresAt: Date;
  },
): MailMessage {
  return compose({
    to,
    subject: `${invitation.inviterName} invited you to ${invitation.tenantName} on Strongroom`,
    paragraphs: [
      `${invitation.inviterName} (${invitation.inviterEmail}) invited ${to} to the Strongroom tenant "${invitation.tenantName}" as ${invitation.role}.`,
      `To accept, sign in (or create an account) with this address, verify it, and open your invitations. The invitation expires at ${invitation.expiresAt.toISOString()}.`,
      'If you do not know the sender, ignore this message: nothing happens unless you accept.',
    ],
    action: { label: 'Open my invitations', url: consoleLink(links, '/invitations') },
  });
}
