import { defineRoute, type RouteDef } from '../../shared/http/route.js';

/**
 * A route of the public area with no authentication, no parameters and no body, for tests of the API stack
 * itself: `id`, `method`, `path` and the answer given, anything else (rate limits) added.
 */
export function bareRoute(
  route: Pick<RouteDef, 'id' | 'method' | 'path' | 'response'> & Partial<Pick<RouteDef, 'rateLimits'>>,
): RouteDef {
  return defineRoute({ area: 'public', summary: 'test route', tags: [], auth: { kind: 'none' }, ...route });
}
