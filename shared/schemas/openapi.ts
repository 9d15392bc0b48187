import { z } from 'zod';
import type { RouteDef } from '../http/route.js';
import { Problem } from './common.js';

type JsonSchema = Record<string, unknown>;

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  });
  return rest;
};

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** Builds the OpenAPI 3.1 document from the route list and its zod schemas. */
export function buildOpenApiDocument(routes: readonly RouteDef[], info: { version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      const json = schemaOf(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, prop] of Object.entries(json.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (json.required ?? []).includes(name),
          schema: prop,
        });
      }
    }
    const responses: Record<string, unknown> = {
      [route.response.status]: {
        description: route.response.description,
        ...(route.response.schema
          ? {
              content: {
                [route.response.contentType ?? 'application/json']: {
                  schema: schemaOf(route.response.schema, 'output'),
                },
              },
            }
          : {}),
      },
      '400': problemResponse('Invalid input; `errors` names each field'),
      default: problemResponse('Error'),
    };
    if (route.auth.kind !== 'none') {
      responses['401'] = problemResponse('Missing, invalid or expired credential');
      if (route.auth.kind === 'tenant') {
        responses['403'] = problemResponse(`Needs permission ${route.auth.permission}`);
        responses['404'] = problemResponse('Unknown tenant or resource');
      }
    }
    if (route.rateLimits?.length) responses['429'] = problemResponse('Rate limited; see Retry-After');
    const operation: Record<string, unknown> = {
      operationId: route.id,
      summary: route.summary,
      tags: route.tags,
      parameters,
      responses,
      security: route.auth.kind === 'none' ? [] : [{ bearer: [] }],
    };
    if (route.auth.kind === 'tenant') operation['x-strongroom-permission'] = route.auth.permission;
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Strongroom API', version: info.version },
    paths,
    components: {
      schemas: { Problem: schemaOf(Problem, 'output') },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Session token or API key' },
      },
    },
  };
}
