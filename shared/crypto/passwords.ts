/**
 * argon2 is a native (N-API) module: loading it opens a shared library. Most of the auth function's routes
 * (sessions, passkeys, sign-in history, OIDC) never hash a password, so it is loaded by the first hash or
 * verification rather than at cold start.
 */
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const loadArgon2 = () => (argon2 ??= import('@node-rs/argon2'));

/** OWASP argon2id parameters (DESIGN.md §4): m = 19 MiB, t = 2, p = 1. */
export const ARGON2_PARAMS = {
  algorithm: 2 /* Algorithm.Argon2id (a const enum, not importable under isolatedModules) */,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Hashes a password with argon2id. */
export async function hashPassword(password: string): Promise<string> {
  const { hash } = await loadArgon2();
  return hash(password, ARGON2_PARAMS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies a password against a stored hash, or, when there is no user, against a dummy hash of the same
 * cost so an unknown e-mail takes as long as a known one.
 */
export async function verifyPassword(storedHash: string | undefined, password: string): Promise<boolean> {
  const { verify } = await loadArgon2();
  if (storedHash === undefined) {
    dummyHash ??= hashPassword(`dummy-${Math.random()}`);
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

/** Whether a stored hash was made with other parameters than today's (then rehash on login). */
export function needsRehash(storedHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
  if (!match) return true;
  const [, m, t, p] = match.map(Number);
  return m !== ARGON2_PARAMS.memoryCost || t !== ARGON2_PARAMS.timeCost || p !== ARGON2_PARAMS.parallelism;
}
