import { functionRuntime } from '../../shared/aws/runtime.js';
import { createApiHandler, implement } from '../../shared/http/api.js';
import { buildOpenApiDocument } from '../../shared/schemas/openapi.js';
import { health, openApi } from '../../shared/schemas/public.js';
import { ROUTES } from '../../shared/schemas/routes.js';

let openApiDocument: unknown;

/**
 * Health, the OpenAPI document, and the catch-all behind API Gateway's `{proxy+}` and per-resource `ANY`
 * methods, which answers 404 for unknown paths and 405 for unknown methods on known ones.
 */
const runtime = functionRuntime();

export const handler = createApiHandler({
  runtime,
  area: 'public',
  allRoutes: ROUTES,
  routes: [
    implement(health, async () => ({ status: 200, body: { status: 'ok', service: 'strongroom' } })),
    implement(openApi, async () => {
      openApiDocument ??= buildOpenApiDocument(ROUTES, { version: '1.0.0' });
      return { status: 200, body: openApiDocument };
    }),
  ],
});
