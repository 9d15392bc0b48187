import type { PolicyDocument, PolicyStatement } from './iam.js';
import { EXTERNAL_MAX_CREDENTIAL_SECONDS, MAX_CREDENTIAL_SECONDS } from './storage-limits.js';
import { PolicyTooLargeError } from './storage-policy.js';
import { ROLE_INLINE_POLICIES_MAX_CHARS } from './tenant-storage-role.js';

/**
 * Revocation of vended storage credentials, within one tenant (pure).
 *
 * Each tenant's revocations are a list of entries kept in the tenant's own partition and written, as an
 * explicit deny, into the tenant's own storage role (shared/domain/tenant-storage-role.ts). Compaction only
 * ever merges entries of the same tenant, so no volume of revocations in one tenant can touch another.
 */

/**
 * One revocation: sessions of this tenant issued before `notBefore` stop working if they are tagged with
 * one of `users`, or with one of `locations`; an entry with neither denies every session of the tenant
 * issued before its cutoff (compaction's last resort, and tenant deletion).
 */
export interface RevocationEntry {
  users?: string[];
  locations?: string[];
  /** ISO 8601 UTC, whole seconds. */
  notBefore: string;
}

/**
 * Budget for the revocation inline policy: what IAM allows across a role's inline policies, less the
 * role's own grant (`tenantStorageRolePolicy`, under 2,048 characters; a unit test holds both to it).
 */
export const REVOCATION_POLICY_MAX_CHARS = ROLE_INLINE_POLICIES_MAX_CHARS - 2048;
/**
 * A revocation entry is kept this long after its cutoff: every credential issued before the cutoff has
 * expired by then (longest lifetime), plus a minute for clock skew between STS and this function.
 */
export const REVOCATION_RETENTION_SECONDS = MAX_CREDENTIAL_SECONDS + 60;

/** A revocation of one user's credentials, of one location's, or (neither) of the whole tenant's. */
export function revocationOf(input: {
  userId?: string;
  locationId?: string;
  notBefore: string;
}): RevocationEntry {
  if (input.userId && input.locationId) throw new TypeError('a revocation names a user or a location');
  return {
    ...(input.userId ? { users: [input.userId] } : {}),
    ...(input.locationId ? { locations: [input.locationId] } : {}),
    notBefore: input.notBefore,
  };
}

/**
 * How long a storage fence lasts. A member's removal or demotion, and a location's deletion, first fence the
 * member or location item, then revoke, then change it; a vend that went to STS re-reads the item afterwards
 * and refuses its credentials if the item is fenced or gone. A vend whose re-read came before the fence got
 * its credential before the fence, so before the revocation's cutoff (computed after the fence): the deny
 * covers it. The fence outlasts a removal (revocation retries included) and is lifted when the change fails.
 */
export const STORAGE_FENCE_MS = 120_000;

/** Whether a fence (epoch ms, or absent) still holds at `nowMs`. */
export function storageFenced(fenceUntil: number | undefined, nowMs: number): boolean {
  return typeof fenceUntil === 'number' && fenceUntil > nowMs;
}

/**
 * The cutoff for a revocation made at `nowMs`: rounded *up* to the next whole second, so a credential
 * issued earlier in the same second is covered (fail closed); one issued in that sliver is refused too.
 */
export function revocationCutoff(nowMs: number): string {
  return new Date(Math.ceil((nowMs + 1) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const later = (a: string, b: string) => (a > b ? a : b);
const kindOf = (e: RevocationEntry) => (e.users ? 'users' : e.locations ? 'locations' : 'tenant');
const entryKey = (e: RevocationEntry) => `${kindOf(e)}/${(e.users ?? e.locations ?? []).join(',')}`;

/**
 * Adds a revocation and prunes: entries whose cutoff lies more than REVOCATION_RETENTION_SECONDS in the past
 * are dropped (every credential they could deny has expired), and identical subjects keep only the latest
 * cutoff. When the deny policy would still exceed REVOCATION_POLICY_MAX_CHARS, entries of the same kind are
 * merged, always by widening and never by dropping a denial (over-revocation only means a re-vend;
 * under-revocation would be a hole), least disruptive first:
 *  1. the two user entries with the closest cutoffs → one entry for both users, with the later cutoff;
 *  2. likewise for location entries;
 *  3. one entry for every session of the tenant issued before the latest cutoff.
 * One entry can name a few hundred users, so step 3 takes hundreds of revocations within an hour in one
 * tenant, and it still reaches that tenant only.
 */
export function addRevocation(
  entries: readonly RevocationEntry[],
  added: RevocationEntry,
  nowMs: number,
): RevocationEntry[] {
  const byKey = new Map<string, RevocationEntry>();
  for (const entry of [...pruneRevocations(entries, nowMs), added]) {
    const key = entryKey(entry);
    const existing = byKey.get(key);
    if (!existing || existing.notBefore < entry.notBefore) byKey.set(key, entry);
  }
  let result = [...byKey.values()];
  while (policyLength(result) > REVOCATION_POLICY_MAX_CHARS) result = compactOnce(result);
  return result.sort((a, b) => (a.notBefore < b.notBefore ? -1 : a.notBefore > b.notBefore ? 1 : 0));
}

/** Entries still able to deny a live credential at `nowMs`. */
export function pruneRevocations(entries: readonly RevocationEntry[], nowMs: number): RevocationEntry[] {
  return entries.filter((e) => Date.parse(e.notBefore) + REVOCATION_RETENTION_SECONDS * 1000 > nowMs);
}

/** The pair among `candidates` with the closest cutoffs, merged into `entries`; undefined with fewer than two. */
function mergeClosest(
  entries: RevocationEntry[],
  candidates: RevocationEntry[],
  field: 'users' | 'locations',
): RevocationEntry[] | undefined {
  if (candidates.length < 2) return undefined;
  const sorted = [...candidates].sort((a, b) => Date.parse(a.notBefore) - Date.parse(b.notBefore));
  let best = 0;
  for (let i = 1; i < sorted.length - 1; i++) {
    const gap = Date.parse(sorted[i + 1]!.notBefore) - Date.parse(sorted[i]!.notBefore);
    if (gap < Date.parse(sorted[best + 1]!.notBefore) - Date.parse(sorted[best]!.notBefore)) best = i;
  }
  const [a, b] = [sorted[best]!, sorted[best + 1]!];
  const merged: RevocationEntry = {
    [field]: [...new Set([...(a[field] ?? []), ...(b[field] ?? [])])].sort(),
    notBefore: later(a.notBefore, b.notBefore),
  };
  return [...entries.filter((e) => e !== a && e !== b), merged];
}

function compactOnce(entries: RevocationEntry[]): RevocationEntry[] {
  return (
    mergeClosest(
      entries,
      entries.filter((e) => e.users),
      'users',
    ) ??
    mergeClosest(
      entries,
      entries.filter((e) => e.locations),
      'locations',
    ) ?? [{ notBefore: entries.map((e) => e.notBefore).reduce(later) }]
  );
}

/**
 * The latest cutoff that applies to a user's credential for a location, if any: a credential issued before
 * it is denied (so the vending function neither serves a cached one nor issues one within that second).
 */
export function revokedBefore(
  entries: readonly RevocationEntry[],
  subject: { userId: string; locationId?: string },
): string | undefined {
  let latest: string | undefined;
  for (const e of entries) {
    const applies = e.users
      ? e.users.includes(subject.userId)
      : e.locations
        ? subject.locationId !== undefined && e.locations.includes(subject.locationId)
        : true;
    if (applies && (latest === undefined || e.notBefore > latest)) latest = e.notBefore;
  }
  return latest;
}

const oneOrMany = (values: string[]) => (values.length === 1 ? values[0]! : values);

/** One deny statement: the entry's users' or locations' sessions (or all) issued before its cutoff. */
export function revocationStatement(entry: RevocationEntry): PolicyStatement {
  const tags: Record<string, string | string[]> = {};
  if (entry.users) tags['aws:PrincipalTag/UserId'] = oneOrMany(entry.users);
  if (entry.locations) tags['aws:PrincipalTag/LocationId'] = oneOrMany(entry.locations);
  return {
    Effect: 'Deny',
    Action: 's3:*',
    Resource: '*',
    Condition: {
      ...(Object.keys(tags).length ? { StringEquals: tags } : {}),
      DateLessThan: { 'aws:TokenIssueTime': entry.notBefore },
    },
  };
}

/**
 * A tenant storage role's revocation inline policy, or undefined when nothing is revoked (the policy is then
 * deleted: IAM refuses a policy without statements).
 */
export function revocationPolicy(entries: readonly RevocationEntry[]): PolicyDocument | undefined {
  if (entries.length === 0) return undefined;
  const policy: PolicyDocument = { Version: '2012-10-17', Statement: entries.map(revocationStatement) };
  const length = JSON.stringify(policy).length;
  if (length > REVOCATION_POLICY_MAX_CHARS)
    throw new PolicyTooLargeError('revocation policy', length, REVOCATION_POLICY_MAX_CHARS);
  return policy;
}

function policyLength(entries: readonly RevocationEntry[]): number {
  return JSON.stringify({ Version: '2012-10-17', Statement: entries.map(revocationStatement) }).length;
}

// ---------------------------------------------------------------------------------------------------------
// What a revocation did, per kind of location: the API response, the audit event and the client guide say
// the same thing, in these words.

export type CredentialKind = 'managed' | 'external';

/** What a revocation did to one kind of credential. */
export type RevocationOutcome =
  | { kind: 'managed'; effect: 'denied'; issuedBefore: string; detail: string }
  | { kind: 'external'; effect: 'not-revocable'; expireBy: string; detail: string }
  | { kind: CredentialKind; effect: 'none-live'; detail: string };

/** Managed-location credentials: denied on the tenant's own storage role. */
export function managedDenied(issuedBefore: string, subject: string): RevocationOutcome {
  return {
    kind: 'managed',
    effect: 'denied',
    issuedBefore,
    detail: `Every managed-location credential ${subject} issued before ${issuedBefore} is refused by an explicit deny on this tenant's own storage role; AWS applies it within seconds.`,
  };
}

/**
 * External-location credentials: sessions of the customer's role, which Strongroom cannot deny. They last at
 * most EXTERNAL_MAX_CREDENTIAL_SECONDS, so `expireBy` is a real upper bound.
 */
export function externalNotRevocable(expireBy: string, subject: string): RevocationOutcome {
  return {
    kind: 'external',
    effect: 'not-revocable',
    expireBy,
    detail: `External-location credentials ${subject} are sessions of your own IAM role, which Strongroom cannot deny: they keep working until they expire, by ${expireBy} at the latest (they last at most ${EXTERNAL_MAX_CREDENTIAL_SECONDS} seconds), and Strongroom no longer hands out cached ones. To cut them off sooner, change your role's permissions or trust policy. Remote signing, which will stop every request at once, is not available yet.`,
  };
}

/** No credential of this kind that could still work was vended. */
export function noneLive(kind: CredentialKind, subject: string): RevocationOutcome {
  return {
    kind,
    effect: 'none-live',
    detail: `No ${kind}-location credential ${subject} can still be valid: there was nothing to revoke.`,
  };
}

/** The latest expiry of an external credential issued before `cutoff`. */
export function externalExpiryBound(cutoff: string): string {
  return new Date(Date.parse(cutoff) + EXTERNAL_MAX_CREDENTIAL_SECONDS * 1000)
    .toISOString()
    .replace('.000Z', 'Z');
}
