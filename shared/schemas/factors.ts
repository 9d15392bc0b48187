/**
 * The fresh second factors a request can carry (a TOTP code, a recovery code, a passkey step-up token), apart
 * from the rest of the sign-in schemas (./auth.ts, which re-exports them): the tenants function's tenant deletion
 * asks for one, and importing them from here keeps auth.ts out of that function's cold start (esbuild puts a whole
 * module in the init chunk when init code imports anything from it; pinned in test/infra/bundles.test.ts).
 */
import { STEP_UP_TOKEN_PATTERN } from '../domain/credentials.js';
import * as z from '../domain/zod.js';

/** A current 6-digit TOTP code. */
export const TotpCode = z.onFirstUse(() => z.string().check(z.regex(/^\d{6}$/, 'A 6-digit code')));
/** One of the user's one-time recovery codes. */
export const RecoveryCode = z.onFirstUse(() => z.string().check(z.minLength(10), z.maxLength(32)));
/**
 * A step-up token (`POST /v1/me/step-up/passkey`): a fresh passkey assertion of this session, in place of
 * a code where a fresh second factor is asked for. Works once, for 5 minutes, in the session that got it.
 */
export const StepUpToken = z.onFirstUse(() =>
  z
    .string()
    .check(
      z.regex(STEP_UP_TOKEN_PATTERN, 'A step-up token (sru_…)'),
      z.describe(
        'From POST /v1/me/step-up/passkey: a fresh passkey assertion, once, within 5 minutes, this session only',
      ),
    ),
);

/** `z.refine` arguments: exactly one fresh factor, the code field being `codeField`. */
export const exactlyOneFactor = (
  codeField: 'mfaCode' | 'code',
): [(b: Record<string, unknown>) => boolean, { message: string; path: string[] }] => [
  (b) => [b[codeField], b.recoveryCode, b.stepUpToken].filter((f) => f !== undefined).length === 1,
  { message: `Send exactly one of ${codeField}, recoveryCode or stepUpToken`, path: [codeField] },
];
