/**
 * Field values of a data-source connection that the route schemas and the store share. A module of their own
 * so that a function validating a connection (or a query over one) does not load the connections store at
 * its cold start (esbuild assigns whole files to chunks); shared/store/connections-store.ts re-exports them.
 */

/** What every read shows in place of the password. */
export const PASSWORD_MASK = '********';

export const TLS_MODES = ['require', 'verify-full', 'disable'] as const;
export type TlsMode = (typeof TLS_MODES)[number];
