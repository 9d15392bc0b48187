/**
 * TOTP (./totp.ts and otplib, about 9 KiB) serves only enrolment and the check of a code: it is loaded by the
 * first request that needs it, a chunk of its own, not at the auth function's cold start (a password sign-in
 * without a code never loads it). A failed load fails that request and is tried again by the next (see loadedOnUse).
 */
export const loadTotp = () => import('./totp.js');
