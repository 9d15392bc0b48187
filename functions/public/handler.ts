import { functionRuntime } from '../../shared/aws/runtime.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import { health, openApi } from '../../shared/schemas/public.js';
import { ROUTE_TABLE } from '../../shared/schemas/route-table.js';

let openApiDocument: Promise<unknown> | undefined;

/** The OpenAPI document, built once from the route list, which is loaded (a chunk) for it alone. */
async function buildDocument(): Promise<unknown> {
  const [{ buildOpenApiDocument }, { ROUTES }] = await Promise.all([
    import('../../shared/schemas/openapi.js'),
    import('../../shared/schemas/routes.js'),
  ]);
  return buildOpenApiDocument(ROUTES, { version: '1.0.0' });
}

/**
 * Health, the OpenAPI document, and the catch-all behind API Gateway's `{proxy+}` and per-resource `ANY`
 * methods, which answers 404 for unknown paths and 405 for unknown methods on known ones. Those answers need
 * every route's method and path only: the route table (shared/schemas/route-table.ts), so a cold start loads
 * no other area's route definitions and builds none of their schemas.
 */
const runtime = functionRuntime();

export const handler = createApiHandler({
  runtime,
  area: 'public',
  allRoutes: ROUTE_TABLE,
  routes: [
    implement(health, async () => ({ status: 200, body: { status: 'ok', service: 'strongroom' } })),
    implement(openApi, async () => {
      openApiDocument ??= buildDocument().catch((error: unknown) => {
        openApiDocument = undefined;
        throw error;
      });
      return { status: 200, body: await openApiDocument };
    }),
  ],
});
