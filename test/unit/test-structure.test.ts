import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');

/** Every test file of the suite (the vitest projects include `test/**\/*.test.ts`), repository-relative. */
function testFiles(): string[] {
  return readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join('test', file).split(path.sep).join('/'))
    .sort();
}

interface Source {
  file: string;
  source: string;
}

const readAll = (files: string[]): Source[] =>
  files.map((file) => ({ file, source: readFileSync(path.join(ROOT, file), 'utf8') }));

/** The files whose tests are not marked in Prepare / Act / Assess parts (test/README.md): no `// Act` line. */
function withoutActMarker(files: Source[]): string[] {
  return files.filter(({ source }) => !/^\s*\/\/ Act\b/m.test(source)).map(({ file }) => file);
}

/**
 * The tests (`it` / `test` calls, `it.each` tables included) whose body has no `// Act` or `// Assess` line,
 * as `file:line`.
 */
function unmarkedTests({ file, source }: Source): string[] {
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = ts.isCallExpression(node.expression) ? node.expression.expression : node.expression;
      const body = node.arguments.find((a) => ts.isArrowFunction(a) || ts.isFunctionExpression(a));
      if (body && /^(it|test)(\.(each|only|skip|concurrent|fails))?$/.test(callee.getText(parsed))) {
        const text = source.slice(body.body.getFullStart(), body.body.end);
        if (!/^\s*\/\/ (Act|Assess)\b/m.test(text))
          found.push(`${file}:${parsed.getLineAndCharacterOfPosition(node.getStart(parsed)).line + 1}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return found;
}

describe('test structure (test/README.md, Prepare / Act / Assess)', () => {
  it('marks the Act part in every test file', () => {
    // Act
    const files = testFiles();
    const unmarked = withoutActMarker(readAll(files));

    // Assess: the whole suite was read, and every file names its Act part
    expect(files.length).toBeGreaterThan(100);
    expect(unmarked).toEqual([]);
  });

  it('marks the Act or Assess part in every test', () => {
    // Act
    const unmarked = readAll(testFiles()).flatMap(unmarkedTests);

    // Assess
    expect(unmarked).toEqual([]);
    // Parsing the whole suite takes a few seconds on a loaded machine.
  }, 30_000);

  it('names each file without the marker (live control)', () => {
    // Prepare: one file per way of marking, and two that do not
    const files = [
      { file: 'a.test.ts', source: "it('x', () => {\n  // Act\n  run();\n});" },
      { file: 'b.test.ts', source: "it('x', () => {\n  // Act / Assess: a table\n  check();\n});" },
      { file: 'c.test.ts', source: "it('x', () => {\n  // Act: the second step\n  run();\n});" },
      { file: 'd.test.ts', source: "it('x', () => {\n  run();\n  expect(1).toBe(1);\n});" },
      { file: 'e.test.ts', source: "it('x', () => {\n  run(); // Actually not a marker\n});" },
    ];

    // Act
    const unmarked = withoutActMarker(files);

    // Assess
    expect(unmarked).toEqual(['d.test.ts', 'e.test.ts']);
  });

  it('names each test without a marker, tables and nested suites included (live control)', () => {
    // Prepare: a marked test, an unmarked one, an unmarked table inside a suite, and a marked table
    const source = [
      "it('marked', () => {",
      '  // Act / Assess',
      '  expect(1).toBe(1);',
      '});',
      "test('bare', async () => {",
      '  expect(await run()).toBe(1);',
      '});',
      "describe('suite', () => {",
      "  it.each([1, 2])('table %s', (n) => {",
      '    expect(n).toBeGreaterThan(0);',
      '  });',
      "  it.each([1])('marked table %s', (n) => {",
      '    // Assess: what the table gives',
      '    expect(n).toBe(1);',
      '  });',
      '});',
    ].join('\n');

    // Act
    const unmarked = unmarkedTests({ file: 'x.test.ts', source });

    // Assess
    expect(unmarked).toEqual(['x.test.ts:5', 'x.test.ts:9']);
  });
});
