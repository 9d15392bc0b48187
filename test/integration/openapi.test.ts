import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { useTestApi } from '../support/local-api.js';

const api = useTestApi();

type Json = Record<string, unknown>;

/** Every `$ref` string in a document, with where it was found. */
function refsIn(value: unknown, at = '#'): { at: string; ref: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsIn(v, `${at}/${i}`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ at, ref: v }] : refsIn(v, `${at}/${k}`),
  );
}

function resolvePointer(document: Json, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, part) => (node as Json | undefined)?.[part], document);
}

describe('the served OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (schema validation with @seriousme/openapi-schema-validator)', async () => {
    // Act
    const res = await api.request('GET', '/openapi.json');

    // Assess
    expect(res.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has no reference that resolves to nothing or only to references (Problem is a real schema)', async () => {
    // Act
    const { body: document } = await api.request<Json>('GET', '/openapi.json');

    // Assess: every reference resolves to a schema, through no cycle; Problem is a real object schema
    const refs = refsIn(document);
    expect(refs.length).toBeGreaterThan(0);
    for (const { at, ref } of refs) {
      // Follow chains of pure references: a cycle of them (a schema that is a reference to itself) is a
      // schema nobody can generate a type or a validator from.
      const seen = new Set<string>();
      let target: unknown;
      let current = ref;
      for (;;) {
        expect(seen.has(current), `${at}: ${ref} is a cycle of references`).toBe(false);
        seen.add(current);
        target = resolvePointer(document, current);
        expect(target, `${at}: ${current} resolves to nothing`).toBeTypeOf('object');
        const next = (target as Json).$ref;
        if (typeof next !== 'string' || Object.keys(target as Json).length > 1) break;
        current = next;
      }
    }
    const problem = resolvePointer(document, '#/components/schemas/Problem') as Json;
    expect(problem).toMatchObject({
      type: 'object',
      required: ['type', 'title', 'status'],
      properties: { type: { type: 'string' }, title: { type: 'string' }, detail: { type: 'string' } },
    });
  });

  it('dereferences completely with the validator (every reference resolves)', async () => {
    // Act
    const { body: document } = await api.request<Json>('GET', '/openapi.json');

    // Assess: the validator resolves it, and a problem answer's schema comes out whole
    const validator = new Validator();
    await validator.validate(document);
    const resolved = validator.resolveRefs() as Json;
    const problemResponse = resolvePointer(
      resolved,
      '#/paths/~1v1~1me/get/responses/401/content/application~1problem+json/schema',
    ) as Json;
    expect(problemResponse.type).toBe('object');
    expect(Object.keys(problemResponse.properties as Json)).toEqual([
      'type',
      'title',
      'status',
      'detail',
      'errors',
      'requestId',
      'failure',
    ]);
  });
});
