/**
 * Failure budgets for anything that checks a password or a second factor (sign-in, fresh-MFA checks,
 * password change, MFA enrolment), chosen so that an attacker cannot guess fast and cannot lock the owner
 * out either (docs/sign-in-and-limits.md derives the numbers):
 *
 * - per account and network (IPv4 /24, IPv6 /48): 10 failures per hour, 3 while the account is under
 *   attack. A network that spends its budget stops itself, not the owner signing in from elsewhere.
 * - "under attack": more than 50 wrong passwords for the account in the last hour from all networks.
 *   Every network then gets the smaller budget: distributed password guessing slows 3×, and the owner,
 *   who needs one attempt, is not stopped.
 * - per account, across all networks, for TOTP codes only: 10 wrong codes per hour and 30 per day. This
 *   bounds distributed guessing of the 6-digit code once the password is known (at most 930 guesses in
 *   30 days, each right with probability at most 3 in a million). Recovery codes (about 50 bits each)
 *   are outside it, so an attacker who knows the password and spends it cannot stop the owner signing in
 *   with a recovery code.
 *
 * Every limit is a sliding window; a slot is taken before the secret is checked and given back when it
 * was right, so only failures count and concurrency cannot get more checks than the limit.
 */
export const SIGN_IN_LIMITS = {
  networkFailures: { limit: 10, underAttackLimit: 3, windowSeconds: 3600 },
  accountPasswordFailures: { underAttackAbove: 50, windowSeconds: 3600 },
  accountTotpFailures: [
    { limit: 10, windowSeconds: 3600 },
    { limit: 30, windowSeconds: 86_400 },
  ],
} as const;

/** One sliding-window budget: `limit` per `windowSeconds` for `name`/`key`. */
export interface Budget {
  name: string;
  key: string;
  limit: number;
  windowSeconds: number;
}

/** The failure budget of one account from the network `ip` belongs to. */
export function networkFailureBudget(account: string, ip: string, underAttack: boolean): Budget {
  const { limit, underAttackLimit, windowSeconds } = SIGN_IN_LIMITS.networkFailures;
  return {
    name: 'signin-failures',
    key: `${account}#${networkOf(ip)}`,
    limit: underAttack ? underAttackLimit : limit,
    windowSeconds,
  };
}

/** The account-wide budgets for wrong TOTP codes. */
export function totpFailureBudgets(account: string): Budget[] {
  return SIGN_IN_LIMITS.accountTotpFailures.map(({ limit, windowSeconds }) => ({
    name: `totp-failures-${windowSeconds}s`,
    key: account,
    limit,
    windowSeconds,
  }));
}

/**
 * The network an address belongs to, as attackers hold them: an IPv4 /24, an IPv6 /48. A /48 is what one
 * site or subscriber is routinely given (a free tunnel broker hands one out), so counting /64s would give
 * one attacker 65,536 budgets. Addresses that embed an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) count as that IPv4 address. Anything else is kept as it is.
 */
export function networkOf(ip: string): string {
  const v4 = ipv4Of(ip) ?? embeddedIpv4Of(ip);
  if (v4) return `${v4.slice(0, 3).join('.')}.0/24`;
  const v6 = ipv6Groups(ip);
  if (v6) return `${v6.slice(0, 3).join(':')}::/48`;
  return ip;
}

/**
 * The key of a per-client rate limit: the IPv4 address (many people can share a /24), or the IPv6 /64
 * (a single client usually holds all of it).
 */
export function clientKeyOf(ip: string): string {
  const v4 = ipv4Of(ip) ?? embeddedIpv4Of(ip);
  if (v4) return v4.join('.');
  const v6 = ipv6Groups(ip);
  return v6 ? `${v6.slice(0, 4).join(':')}::/64` : ip;
}

/**
 * How many clients' worth of a per-client limit one IPv6 /48 gets in all. Per-client limits count an IPv6
 * client by its /64, and one holder of a /48 has 65,536 of those; the /48 as a whole is held to this
 * multiple of the limit, so a site with several clients is not treated as one, and an attacker's /48 is
 * worth a handful of clients rather than tens of thousands.
 */
export const IPV6_SITE_FACTOR = 8;

/** The IPv6 /48 a client belongs to (see IPV6_SITE_FACTOR), or undefined for IPv4 clients. */
export function ipv6SiteOf(ip: string): string | undefined {
  if (ipv4Of(ip) ?? embeddedIpv4Of(ip)) return undefined;
  return ipv6Groups(ip) ? networkOf(ip) : undefined;
}

/** The IPv4 address inside a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address. */
function embeddedIpv4Of(ip: string): number[] | undefined {
  const groups = ipv6Groups(ip)?.map((g) => Number.parseInt(g, 16));
  if (!groups) return undefined;
  const octets = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0))
    return octets(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return octets(groups[1]!, groups[2]!);
  return undefined;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Of(ip: string): number[] | undefined {
  const plain = /^::ffff:/i.test(ip) ? ip.slice(7) : ip;
  const match = IPV4.exec(plain);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address (lower-case hex, no leading zeros), or undefined. */
function ipv6Groups(ip: string): string[] | undefined {
  const address = ip.split('%')[0]!.toLowerCase();
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  // An embedded IPv4 tail (64:ff9b::192.0.2.1) is the last two groups.
  const last = halves.length === 2 ? tail : head;
  const embedded = last.length > 0 && last.at(-1)!.includes('.') ? ipv4Of(last.at(-1)!) : undefined;
  if (last.length > 0 && last.at(-1)!.includes('.')) {
    if (!embedded) return undefined;
    last.splice(
      -1,
      1,
      ((embedded[0]! << 8) | embedded[1]!).toString(16),
      ((embedded[2]! << 8) | embedded[3]!).toString(16),
    );
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}
