import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as z from '../../../shared/domain/zod.js';
import { defineRoute } from '../../../shared/http/route.js';
import { ROUTE_TABLE } from '../../../shared/schemas/route-table.js';
import { ROUTES } from '../../../shared/schemas/routes.js';

const ROOT = path.resolve(__dirname, '../../..');
const SCHEMA_DIR = path.join(ROOT, 'shared', 'schemas');

/**
 * The schemas a route literal builds while its module loads: each `params`, `query`, `body` or
 * `response.schema` of a `defineRoute({…})` given as an expression (a `z.…` call) rather than a getter or the
 * name of a shared constant, as `file:line route.key`. A function's cold start builds none of them
 * (shared/http/route.ts); this list keeps it so.
 */
function schemasBuiltAtLoad(file: string, source: string): string[] {
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const check = (object: ts.ObjectLiteralExpression, keys: readonly string[], prefix: string) => {
    for (const property of object.properties) {
      if (!ts.isPropertyAssignment(property) || !keys.includes(property.name.getText(parsed))) continue;
      if (ts.isIdentifier(property.initializer)) continue;
      const line = parsed.getLineAndCharacterOfPosition(property.getStart(parsed)).line + 1;
      found.push(`${file}:${line} ${prefix}${property.name.getText(parsed)}`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.getText(parsed) === 'defineRoute') {
      const route = node.arguments[0];
      if (route && ts.isObjectLiteralExpression(route)) {
        check(route, ['params', 'query', 'body'], '');
        for (const property of route.properties)
          if (
            ts.isPropertyAssignment(property) &&
            property.name.getText(parsed) === 'response' &&
            ts.isObjectLiteralExpression(property.initializer)
          )
            check(property.initializer, ['schema'], 'response.');
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return found;
}

describe('route schemas are built on first use', () => {
  it('runs a route getter once, on first read, and keeps its schema', () => {
    // Prepare: a route whose body and response schemas count their builds
    let builds = 0;
    const route = defineRoute({
      id: 'example',
      method: 'POST',
      path: '/v1/example',
      area: 'public',
      summary: 'Example',
      tags: ['example'],
      auth: { kind: 'none' },
      get body() {
        builds++;
        return z.strictObject({ name: z.string() });
      },
      response: {
        status: 200,
        description: 'Example',
        get schema() {
          builds++;
          return z.object({ ok: z.boolean() });
        },
      },
    });
    const builtAtDefinition = builds;

    // Act: read each schema twice, then spread the route (as the local server and infra do)
    const body = route.body;
    const again = route.body;
    const response = route.response.schema;
    const spread = { ...route, response: { ...route.response } };

    // Assess: nothing built at definition, each schema once, the same object on every read
    expect(builtAtDefinition).toBe(0);
    expect(builds).toBe(2);
    expect(again).toBe(body);
    expect(spread.body).toBe(body);
    expect(spread.response.schema).toBe(response);
    expect(body?.safeParse({ name: 'x' }).success).toBe(true);
    expect(body?.safeParse({ name: 'x', extra: 1 }).success).toBe(false);
  });

  it('leaves every inline schema of the route list to a getter (none built while its module loads)', () => {
    // Act
    const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.ts'));
    const built = files.flatMap((f) =>
      schemasBuiltAtLoad(`shared/schemas/${f}`, readFileSync(path.join(SCHEMA_DIR, f), 'utf8')),
    );

    // Assess: the whole list was read, and no route literal builds a schema
    expect(files.length).toBeGreaterThan(8);
    expect(built).toEqual([]);
  });

  it('names an inline schema of a route literal (live control)', () => {
    // Prepare: one route building its body at load, one with a getter, one naming a shared constant
    const source = [
      "const a = defineRoute({ id: 'a', body: z.strictObject({}), response: { status: 200, schema: z.string() } });",
      "const b = defineRoute({ id: 'b', get body() { return z.strictObject({}); } });",
      "const c = defineRoute({ id: 'c', params: TenantParams, response: { status: 200, schema: Tenant } });",
    ].join('\n');

    // Act
    const built = schemasBuiltAtLoad('x.ts', source);

    // Assess
    expect(built).toEqual(['x.ts:1 body', 'x.ts:1 response.schema']);
  });

  it('builds every route schema for the OpenAPI document and validation alike', () => {
    // Act: read every schema of the route list
    const schemas = ROUTES.flatMap((r) => [r.params, r.query, r.body, r.response.schema]).filter(Boolean);

    // Assess: each is a zod schema, read twice the same
    expect(schemas.length).toBeGreaterThan(100);
    for (const schema of schemas) expect(schema).toBeInstanceOf(z.core.$ZodType);
    expect(ROUTES.map((r) => r.body)).toEqual(ROUTES.map((r) => r.body));
  });

  it('has a route table of every route’s method and path, in the route list’s order', () => {
    // Act
    const keys = ROUTES.map(({ method, path }) => ({ method, path }));

    // Assess: what the public function answers 404 and 405 from is the route list, schemas left out
    expect(ROUTE_TABLE).toEqual(keys);
  });
});
