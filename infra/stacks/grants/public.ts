import type { AreaGrants } from './area-resources.js';

/**
 * Health, OpenAPI and the 404/405 catch-all read nothing and call no AWS service: no permissions beyond
 * the logs and traces every function has.
 */
export const publicGrants: AreaGrants = () => {};
