import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Session tokens: `srs.<sessionId>.<secret>`; API keys: `srk.<tenantId>.<keyId>.<secret>`. Secrets are 256-bit. */
export const SESSION_TOKEN_PREFIX = 'srs';
export const API_KEY_PREFIX = 'srk';

const SECRET = /^[A-Za-z0-9_-]{43}$/;
const ID = /^[a-z]_[0-9a-hjkmnp-tv-z]{26}$/;

/** 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 hex of a secret; what is stored instead of the secret. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** A token in a mailed link: `<tokenId>.<secret>`, an `m_` id and a 256-bit secret. */
export const MAIL_TOKEN_PATTERN = /^m_[0-9a-hjkmnp-tv-z]{26}\.[A-Za-z0-9_-]{43}$/;

/** A step-up token (a fresh passkey assertion, services/second-factor.ts): `sru_` and a 256-bit secret. */
export const STEP_UP_TOKEN_PREFIX = 'sru_';
export const STEP_UP_TOKEN_PATTERN = /^sru_[A-Za-z0-9_-]{43}$/;

export type ParsedBearer =
  | { kind: 'session'; sessionId: string; secret: string }
  | { kind: 'api-key'; tenantId: string; keyId: string; secret: string };

/** Parses a bearer credential; undefined when it is neither a well-formed session token nor API key. */
export function parseBearer(value: string): ParsedBearer | undefined {
  const parts = value.split('.');
  if (parts[0] === SESSION_TOKEN_PREFIX && parts.length === 3) {
    const [, sessionId, secret] = parts as [string, string, string];
    if (sessionId.startsWith('s_') && ID.test(sessionId) && SECRET.test(secret))
      return { kind: 'session', sessionId, secret };
  }
  if (parts[0] === API_KEY_PREFIX && parts.length === 4) {
    const [, tenantId, keyId, secret] = parts as [string, string, string, string];
    if (
      tenantId.startsWith('t_') &&
      keyId.startsWith('k_') &&
      ID.test(tenantId) &&
      ID.test(keyId) &&
      SECRET.test(secret)
    ) {
      return { kind: 'api-key', tenantId, keyId, secret };
    }
  }
  return undefined;
}

/** The session token handed to the client once. */
export function sessionToken(sessionId: string, secret: string): string {
  return `${SESSION_TOKEN_PREFIX}.${sessionId}.${secret}`;
}

/** The API key handed to its creator once. */
export function apiKeyString(tenantId: string, keyId: string, secret: string): string {
  return `${API_KEY_PREFIX}.${tenantId}.${keyId}.${secret}`;
}

/** Normalised e-mail address: NFKC, trimmed, lower-cased (the uniqueness key). */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/** Ten one-time recovery codes, `xxxxx-xxxxx` from an unambiguous alphabet (about 50 bits each). */
export function newRecoveryCodes(count = 10): string[] {
  const alphabet = '23456789abcdefghjkmnpqrstuvwxyz';
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** Canonical form of a typed recovery code (case and separators ignored). */
export function normaliseRecoveryCode(code: string): string {
  const plain = code.toLowerCase().replace(/[^0-9a-z]/g, '');
  return `${plain.slice(0, 5)}-${plain.slice(5)}`;
}
