import fc from 'fast-check';

/** A JSON Schema node of the served OpenAPI document (3.1: JSON Schema 2020-12). */
export type JsonSchema = { [keyword: string]: any };
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The node a `$ref` chain ends at (references are local: `#/components/schemas/…`). */
export function resolve(schema: JsonSchema, document: JsonSchema): JsonSchema {
  let node = schema;
  for (let hops = 0; typeof node.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`reference cycle at ${schema.$ref}`);
    node = node.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((at: any, part: string) => at?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], document);
    if (!node) throw new Error(`unresolved reference ${schema.$ref}`);
  }
  return node;
}

/** The JSON types a schema node admits (`type` as a string or a list; none given: decided by its keywords). */
export function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === 'string') return [schema.type];
  if ('const' in schema) return [jsonType(schema.const)];
  if (Array.isArray(schema.enum)) return [...new Set(schema.enum.map(jsonType))];
  return [];
}

export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Nesting past this depth takes only the non-recursive alternatives (QueryWhere refers to itself). */
const MAX_DEPTH = 4;

/**
 * Values the schema accepts, as a fast-check arbitrary, for the part of JSON Schema the document uses:
 * `const`, `enum`, `anyOf`/`oneOf`, type lists, string lengths, patterns (fast-check's `stringMatching`) and
 * formats, integer and number ranges, arrays with item counts, objects with required and optional
 * properties, and maps (`additionalProperties` with `propertyNames`). `complete`: every property present and
 * every list non-empty, so that any field can be changed in place.
 */
export function acceptedValue(
  schema: JsonSchema,
  document: JsonSchema,
  options: { complete?: boolean } = {},
  depth = 0,
): fc.Arbitrary<Json> {
  const node = resolve(schema, document);
  if ('const' in node) return fc.constant(node.const);
  if (Array.isArray(node.enum)) return fc.constantFrom(...node.enum);
  const alternatives: JsonSchema[] | undefined = node.anyOf ?? node.oneOf;
  if (alternatives) {
    const usable = depth < MAX_DEPTH ? alternatives : alternatives.filter((a) => !refersAnywhere(a));
    return fc.oneof(
      ...(usable.length ? usable : alternatives).map((a) => acceptedValue(a, document, options, depth + 1)),
    );
  }
  const types = typesOf(node);
  if (types.length > 1)
    return fc.oneof(...types.map((type) => acceptedValue({ ...node, type }, document, options, depth)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: lowest(node, -1_000_000), max: highest(node, 1_000_000) });
    case 'number':
      return fc.double({
        min: lowest(node, -1e9),
        max: highest(node, 1e9),
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'string':
      return stringOf(node);
    case 'array': {
      const minLength = Math.max(node.minItems ?? 0, options.complete ? 1 : 0);
      const maxLength = Math.min(node.maxItems ?? minLength + 3, minLength + 3);
      const items = node.items ? acceptedValue(node.items, document, options, depth + 1) : fc.constant('x');
      return fc.array(items, { minLength, maxLength });
    }
    case 'object': {
      const properties: Record<string, JsonSchema> = node.properties ?? {};
      const record = fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([name, s]) => [
            name,
            acceptedValue(s, document, options, depth + 1),
          ]),
        ),
        { requiredKeys: options.complete ? Object.keys(properties) : (node.required ?? []) },
      );
      if (!node.additionalProperties || node.additionalProperties === true) return record;
      const keys = node.propertyNames ? stringOf(resolve(node.propertyNames, document)) : fc.string();
      const map = fc.dictionary(
        keys,
        acceptedValue(node.additionalProperties, document, options, depth + 1),
        {
          maxKeys: 3,
        },
      );
      return fc.tuple(record, map).map(([known, extra]) => ({ ...extra, ...known }));
    }
    default:
      return fc.constant('value');
  }
}

function refersAnywhere(schema: JsonSchema): boolean {
  return JSON.stringify(schema).includes('"$ref"');
}

const lowest = (s: JsonSchema, fallback: number) =>
  s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : fallback);
const highest = (s: JsonSchema, fallback: number) =>
  s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : fallback);

function stringOf(node: JsonSchema): fc.Arbitrary<string> {
  const minLength = node.minLength ?? 0;
  const maxLength = node.maxLength ?? Number.POSITIVE_INFINITY;
  const fits = (s: string) => s.length >= minLength && s.length <= maxLength;
  if (typeof node.pattern === 'string') return fc.stringMatching(new RegExp(node.pattern, 'u')).filter(fits);
  if (node.format === 'uri') return fc.webUrl().filter(fits);
  // Printable ASCII (fast-check's default unit): the rules for other text are the mutations' business.
  return fc.string({ minLength, maxLength: Math.min(maxLength, minLength + 40) });
}

/** One field of a body or query: its path below the part, its schema, and whether its parent requires it. */
export interface Field {
  path: (string | number)[];
  schema: JsonSchema;
  required: boolean;
  /** Its parent object refuses properties it does not list. */
  strictParent: boolean;
}

/** Every field reachable through objects and arrays (an array's first item stands for all), to `maxDepth`. */
export function fieldsOf(schema: JsonSchema, document: JsonSchema, maxDepth = 3): Field[] {
  const fields: Field[] = [];
  const walk = (node: JsonSchema, path: (string | number)[], depth: number) => {
    if (depth >= maxDepth) return;
    const resolved = resolve(node, document);
    if (typesOf(resolved).includes('object') && resolved.properties) {
      for (const [name, child] of Object.entries<JsonSchema>(resolved.properties)) {
        const at = [...path, name];
        fields.push({
          path: at,
          schema: resolve(child, document),
          required: (resolved.required ?? []).includes(name),
          strictParent: resolved.additionalProperties === false,
        });
        walk(child, at, depth + 1);
      }
    } else if (typesOf(resolved).includes('array') && resolved.items) {
      const at = [...path, 0];
      fields.push({
        path: at,
        schema: resolve(resolved.items, document),
        required: true,
        strictParent: false,
      });
      walk(resolved.items, at, depth + 1);
    }
  };
  walk(schema, [], 0);
  return fields;
}

/**
 * Values the field's schema refuses, each with a label: another JSON type, a string one past its length
 * bounds, numbers past their range or fractional where an integer is due, a choice not offered, and text
 * with characters no field may carry (a lone surrogate, NUL, a bidi override, a zero-width space).
 */
export function refusedValuesOf(schema: JsonSchema): { label: string; value: Json }[] {
  const types = typesOf(schema);
  const out: { label: string; value: Json }[] = [];
  const alternatives: JsonSchema[] = schema.anyOf ?? schema.oneOf ?? [];
  const admits = (type: string) =>
    types.includes(type) ||
    (type === 'integer' && types.includes('number')) ||
    alternatives.some(
      (a) => typesOf(a).includes(type) || (type === 'integer' && typesOf(a).includes('number')),
    );
  // A union whose branches are objects is refused as a whole by another type only.
  if (!admits('string')) out.push({ label: 'a string where none is due', value: 'surprise' });
  if (!admits('integer')) out.push({ label: 'a number where none is due', value: 12345 });
  if (!admits('object')) out.push({ label: 'an object where none is due', value: { nested: true } });
  if (!admits('array')) out.push({ label: 'a list where none is due', value: ['x'] });
  if (!admits('boolean')) out.push({ label: 'a boolean where none is due', value: true });
  if (!admits('null')) out.push({ label: 'null where it is not allowed', value: null });
  if (types.includes('string') || admits('string')) {
    const stringSchema = types.includes('string')
      ? schema
      : (alternatives.find((a) => typesOf(a).includes('string')) ?? {});
    if (typeof stringSchema.maxLength === 'number')
      out.push({ label: 'one character too long', value: 'a'.repeat(stringSchema.maxLength + 1) });
    if ((stringSchema.minLength ?? 0) > 0)
      out.push({ label: 'one character too short', value: 'a'.repeat(stringSchema.minLength - 1) });
    if (Array.isArray(stringSchema.enum) || 'const' in stringSchema)
      out.push({ label: 'a choice not offered', value: 'not-one-of-them' });
    out.push(
      { label: 'a lone surrogate', value: 'x\uD800y' },
      { label: 'a NUL character', value: 'a\u0000b' },
      { label: 'a bidi override', value: 'Acme\u202Egnp.exe' },
      { label: 'a zero-width space', value: 'ad\u200Bmin' },
    );
  }
  const numeric = [schema, ...alternatives].find((s) =>
    ['integer', 'number'].some((t) => typesOf(s).includes(t)),
  );
  if (numeric) {
    if (typeof numeric.maximum === 'number')
      out.push({ label: 'one past the maximum', value: numeric.maximum + 1 });
    if (typeof numeric.minimum === 'number')
      out.push({ label: 'one below the minimum', value: numeric.minimum - 1 });
    if (typesOf(numeric).includes('integer') && !admits('number'))
      out.push({ label: 'a fraction where an integer is due', value: 1.5 });
    if (typeof numeric.maximum === 'number') out.push({ label: 'a huge number', value: 1e308 });
  }
  return out;
}

/** A copy of `value` with the field at `path` set to `replacement` (or removed), making parents as needed. */
export function withField(value: Json, path: (string | number)[], replacement: Json | typeof REMOVE): Json {
  if (path.length === 0) return replacement === REMOVE ? null : replacement;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const list = Array.isArray(value) && value.length > 0 ? [...value] : [null];
    list[0] = withField(list[0] ?? null, rest, replacement);
    return list;
  }
  const object = value && typeof value === 'object' && !Array.isArray(value) ? { ...value } : {};
  if (rest.length === 0 && replacement === REMOVE) delete object[head!];
  else object[head!] = withField(object[head!] ?? null, rest, replacement);
  return object;
}
export const REMOVE = Symbol('remove');
