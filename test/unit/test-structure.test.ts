import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');

/** Every test file of the suite (the vitest projects include `test/**\/*.test.ts`), repository-relative. */
function testFiles(): string[] {
  return readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join('test', file).split(path.sep).join('/'))
    .sort();
}

/** The files whose tests are not marked in Prepare / Act / Assess parts (test/README.md): no `// Act` line. */
function withoutActMarker(files: { file: string; source: string }[]): string[] {
  return files.filter(({ source }) => !/^\s*\/\/ Act\b/m.test(source)).map(({ file }) => file);
}

describe('test structure (test/README.md, Prepare / Act / Assess)', () => {
  it('marks the Act part in every test file', () => {
    // Act
    const files = testFiles();
    const unmarked = withoutActMarker(
      files.map((file) => ({ file, source: readFileSync(path.join(ROOT, file), 'utf8') })),
    );

    // Assess: the whole suite was read, and every file names its Act part
    expect(files.length).toBeGreaterThan(100);
    expect(unmarked).toEqual([]);
  });

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
});
