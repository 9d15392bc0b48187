import * as z from '../../shared/domain/zod.js';
import type { RouteDef } from '../../shared/http/route.js';

const ID_PREFIXES = ['t', 'u', 's', 'k', 'm', 'i', 'l', 'c', 'e', 'x', 'r', 'n', 'p'];

/** A concrete path for a route: the given tenant, and for other parameters any id the schema accepts. */
export function concretePath(route: RouteDef, tenantId: string): string {
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'tenantId') return tenantId;
    const schema = route.params;
    // Prefixed ids, then a hash-shaped id (43 base64url characters: a linked identity).
    for (const candidate of [...ID_PREFIXES.map((p) => `${p}_01jx0000000000000000000000`), 'A'.repeat(43)]) {
      const probe = schema && z.safeParse(schema, { tenantId, ...Object.fromEntries([[name, candidate]]) });
      if (!schema || probe?.success || !probe?.error.issues.some((i) => i.path[0] === name)) return candidate;
    }
    throw new Error(`no id format accepted for ${route.id}.${name}`);
  });
}
