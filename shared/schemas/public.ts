import * as z from '../domain/zod.js';
import { defineRoute } from '../http/route.js';

export const Health = z.onFirstUse(() =>
  z.object({ status: z.literal('ok'), service: z.string() }).check(z.meta({ id: 'Health' })),
);

export const health = defineRoute({
  id: 'getHealth',
  method: 'GET',
  path: '/health',
  area: 'public',
  summary: 'Liveness',
  tags: ['meta'],
  auth: { kind: 'none' },
  response: {
    status: 200,
    description: 'The service is up',
    get schema() {
      return Health();
    },
  },
});

export const openApi = defineRoute({
  id: 'getOpenApi',
  method: 'GET',
  path: '/openapi.json',
  area: 'public',
  summary: 'The OpenAPI 3.1 document of this API, generated from the route list',
  tags: ['meta'],
  auth: { kind: 'none' },
  response: { status: 200, description: 'OpenAPI 3.1 document' },
});

export const publicRoutes = [health, openApi];
