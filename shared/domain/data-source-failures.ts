/**
 * Why a data source could not be used (a 502's `failure` member, and the `failure` of audited attempts):
 * the class only, never a host's answer, an address or a credential.
 */
export const DATA_SOURCE_FAILURES = [
  /** The name did not resolve, or nothing answered at the address (refused, reset, no route). */
  'unreachable',
  /** The TLS handshake failed: no TLS offered, an untrusted certificate, or the wrong name on it. */
  'tls-refused',
  /** The server refused the user name or password. */
  'authentication-failed',
  /** The server did not finish the connection in time. */
  'timeout',
  /** The server has no database of the configured name. */
  'database-not-found',
  /** The server is up but takes no connection now (no free slots, starting or stopping). */
  'busy',
] as const;

export type DataSourceFailure = (typeof DATA_SOURCE_FAILURES)[number];
