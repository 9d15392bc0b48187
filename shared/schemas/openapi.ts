import * as z from '../domain/zod.js';
import type { RouteDef } from '../http/route.js';
import { Problem } from './common.js';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (2020-12, which OpenAPI 3.1 uses) of a zod schema. Named schemas (`.meta({id})`) come out of
 * zod as `$defs`; they are hoisted into `components.schemas` so each is described once.
 */
function schemaOf(
  schema: z.core.$ZodType,
  io: 'input' | 'output',
  components: Record<string, JsonSchema>,
): JsonSchema {
  const {
    $schema: _ignored,
    $defs,
    ...rest
  } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : rewrite(v),
        ]),
      );
    }
    return value;
  };
  for (const [name, def] of Object.entries($defs ?? {})) {
    // Input and output forms of a named schema can differ (defaults); keep the output form's name plain.
    const key =
      io === 'input' && components[name] && JSON.stringify(components[name]) !== JSON.stringify(rewrite(def))
        ? `${name}Input`
        : name;
    components[key] ??= rewrite(def) as JsonSchema;
  }
  return rewrite(rest) as JsonSchema;
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** Builds the OpenAPI 3.1 document from the route list and its zod schemas. */
export function buildOpenApiDocument(routes: readonly RouteDef[], info: { version: string }) {
  const components: Record<string, JsonSchema> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      const json = schemaOf(schema, 'input', components) as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
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
                  schema: schemaOf(route.response.schema, 'output', components),
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
    if (route.rateLimits?.length)
      operation['x-strongroom-rate-limits'] = route.rateLimits.map((r) => ({
        per: r.per ?? 'ip',
        limit: r.limit,
        windowSeconds: r.windowSeconds,
      }));
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(route.body, 'input', components) } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation;
  }
  // Problem is a named schema: zod answers `{$ref}` and hoists its body into `components`, so the answer
  // itself must not be stored under its own name (that would be a reference to itself).
  schemaOf(Problem(), 'output', components);
  return {
    openapi: '3.1.0',
    info: { title: 'Strongroom API', version: info.version },
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Session token or API key' },
      },
    },
  };
}
