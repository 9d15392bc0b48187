import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forbiddenImports,
  type ImportEdge,
  importCycles,
  importEdges,
  layerViolations,
  resolveSpecifier,
  sourceFiles,
  specifiersOf,
} from '../support/import-graph.js';

const ROOT = path.resolve(__dirname, '../..');

const files = (dir: string) => sourceFiles(ROOT, dir);
const imports = (file: string) => specifiersOf(readFileSync(path.join(ROOT, file), 'utf8'));
/** Repository-relative target of a relative import. */
const resolve = resolveSpecifier;

const RUNTIME = [...files('shared'), ...files('functions')];

/**
 * The layers of the runtime code, innermost first (DESIGN.md §7): each may import only its own layer and
 * the ones below. The SDK is a separate package with no imports of the rest.
 */
const LAYERS = [
  ['shared/domain'],
  ['shared/errors.ts', 'shared/observability.ts'],
  ['shared/aws'],
  ['shared/crypto', 'shared/store', 'shared/connectors', 'shared/mail'],
  ['shared/services'],
  ['shared/http', 'shared/schemas'],
  ['functions'],
];
const LAYERED = RUNTIME.filter((file) => !file.startsWith('shared/sdk/'));
const EDGES = importEdges(ROOT, LAYERED);

describe('architecture (DESIGN.md §7)', () => {
  it('keeps shared/domain pure: no AWS SDK, middy, Powertools, database or network I/O', () => {
    // Act / Assess
    for (const file of files('shared/domain')) {
      for (const spec of imports(file)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(
          /^(@aws-sdk|@smithy|@middy|@aws-lambda-powertools|@aws-crypto|pg$)/,
        );
        expect(spec, `${file} imports ${spec}`).not.toMatch(
          /^node:(fs|net|http|https|child_process|dgram|tls)/,
        );
      }
    }
  });

  it('points dependencies inward: shared/ never imports functions/ or infra/', () => {
    // Act / Assess
    for (const file of files('shared')) {
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        expect(resolve(file, spec), `${file} imports ${spec}`).not.toMatch(/^(functions|infra)\//);
      }
    }
  });

  it("never lets one API area's handlers import another's", () => {
    // Act / Assess
    for (const file of files('functions')) {
      const area = file.split('/')[1];
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = resolve(file, spec);
        if (target.startsWith('functions/'))
          expect(target.split('/')[1], `${file} imports ${spec}`).toBe(area);
      }
    }
  });

  it('mints TenantScopes only in the auth layer, tenant creation and invitation acceptance', () => {
    // Prepare
    // Each entry is one call site: the authorizer (a verified membership), tenant creation (the creator's
    // membership is written in that transaction) and an invitation read back and found addressed to the
    // caller (accepting writes the membership under conditions that re-check it). A second call in any of
    // these files fails here too, so a new minting point is always a reviewed change of this list.
    const allowed = new Map([
      ['shared/http/auth.ts', 1],
      ['shared/services/tenancy.ts', 1],
      ['shared/services/invitations.ts', 1],
    ]);

    // Act / Assess
    for (const file of [...RUNTIME, ...files('infra')]) {
      if (file === 'shared/domain/tenant-scope.ts') continue;
      const source = readFileSync(path.join(ROOT, file), 'utf8');
      const calls = source.match(/\bmintTenantScope\(/g)?.length ?? 0;
      if (source.includes('mintTenantScope'))
        expect(calls, `${file} mints a TenantScope`).toBe(allowed.get(file) ?? -1);
    }
  });

  it('never ships the AGPL policy simulator or other test-only packages in runtime code', () => {
    // Act / Assess
    for (const file of [...RUNTIME, ...files('infra')]) {
      for (const spec of imports(file)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(
          /^(@cloud-copilot|vitest|aws-sdk-client-mock|fast-check)/,
        );
      }
    }
  });
  it('keeps shared/domain self-contained: it imports nothing else of the repository', () => {
    // Act
    const outside = forbiddenImports(
      EDGES,
      ['shared/domain'],
      (to) => to.endsWith('.ts') && !to.startsWith('shared/domain/'),
    );

    // Assess
    expect(outside).toEqual([]);
  });

  it('keeps HTTP and the route schemas out of the store, connector, crypto and service layers', () => {
    // Act
    const upward = forbiddenImports(
      EDGES,
      ['shared/store', 'shared/connectors', 'shared/crypto', 'shared/services'],
      (to) => /^shared\/(http|schemas)\//.test(to),
    );

    // Assess
    expect(upward).toEqual([]);
  });

  it('leaves AWS SDK clients to the stores: services import no @aws-sdk/client-* package', () => {
    // Act / Assess
    expect(forbiddenImports(EDGES, ['shared/services'], (to) => to.startsWith('@aws-sdk/client-'))).toEqual(
      [],
    );
  });

  it('never lets a file import a file of a higher layer, and places every runtime file in a layer', () => {
    // Act / Assess
    expect(layerViolations(EDGES, LAYERS)).toEqual([]);
  });

  it('has no import cycles', () => {
    // Act / Assess
    expect(importCycles(EDGES)).toEqual([]);
  });

  it('imports zod only through shared/domain/zod.ts: zod/mini with English messages, never zod classic', () => {
    // Act
    // zod classic is about 100 KiB of every API function's init and zod/mini about a third of it; a file that
    // imports 'zod' (or zod/mini without the messages) brings classic back or answers without English text.
    const found = RUNTIME.filter(
      (file) =>
        file !== 'shared/domain/zod.ts' && imports(file).some((specifier) => /^zod(\/|$)/.test(specifier)),
    );

    // Assess
    expect(found).toEqual([]);
  });

  it('keeps process-global state out of the domain, store, connector, mail and service layers', () => {
    // Act
    // What a function shares (clients, append notifications) hangs on its runtime (shared/aws/runtime.ts) and
    // is passed in; a module of these layers holds no `let` and no collection anyone can change.
    const found = ['shared/domain', 'shared/store', 'shared/connectors', 'shared/mail', 'shared/services']
      .flatMap(files)
      .flatMap((file) => moduleGlobalState(file, readFileSync(path.join(ROOT, file), 'utf8')));

    // Assess
    expect(found).toEqual([]);
  });
});

/** The module-level `let`/`var` declarations and mutable Map/Set constants of a source file, as `file: line`. */
function moduleGlobalState(file: string, source: string): string[] {
  return source
    .split('\n')
    .filter(
      (line) =>
        /^(export )?(let|var) /.test(line) ||
        /^(export )?const \w+(: (?!Readonly)[^=]+)? = new (Map|Set|WeakMap|WeakSet)\b/.test(line),
    )
    .map((line) => `${file}: ${line.trim()}`);
}

describe('the import rules themselves', () => {
  // A made-up graph with one breach of each rule, so a checker that stopped looking would fail here.
  const edges: ImportEdge[] = [
    { from: 'shared/domain/a.ts', to: 'shared/domain/b.ts' },
    { from: 'shared/domain/a.ts', to: 'shared/errors.ts' },
    { from: 'shared/store/s.ts', to: 'shared/domain/a.ts' },
    { from: 'shared/store/s.ts', to: 'shared/http/api.ts' },
    { from: 'shared/store/s.ts', to: '@aws-sdk/client-s3' },
    { from: 'shared/services/x.ts', to: '@aws-sdk/client-s3' },
    { from: 'shared/services/x.ts', to: '@aws-sdk/lib-dynamodb' },
    { from: 'shared/services/x.ts', to: 'shared/services/y.ts' },
    { from: 'shared/services/y.ts', to: 'shared/services/z.ts' },
    { from: 'shared/services/z.ts', to: 'shared/services/x.ts' },
    { from: 'shared/jobs/j.ts', to: 'shared/domain/a.ts' },
  ];

  it('name each offending pair', () => {
    // Act / Assess: each rule's one breach, by name
    expect(layerViolations(edges, LAYERS)).toEqual([
      'shared/domain/a.ts -> shared/errors.ts',
      'shared/store/s.ts -> shared/http/api.ts',
      'shared/jobs/j.ts belongs to no layer',
    ]);
    expect(forbiddenImports(edges, ['shared/services'], (to) => to.startsWith('@aws-sdk/client-'))).toEqual([
      'shared/services/x.ts -> @aws-sdk/client-s3',
    ]);
    expect(
      forbiddenImports(
        edges,
        ['shared/domain'],
        (to) => to.endsWith('.ts') && !to.startsWith('shared/domain/'),
      ),
    ).toEqual(['shared/domain/a.ts -> shared/errors.ts']);
  });

  it('find a cycle wherever the walk enters it, and report it once', () => {
    // Act / Assess: the cycle, found once; gone when one edge goes; a self-import is one too
    expect(importCycles(edges)).toEqual([
      'shared/services/x.ts -> shared/services/y.ts -> shared/services/z.ts -> shared/services/x.ts',
    ]);
    expect(importCycles(edges.filter((e) => e.from !== 'shared/services/z.ts'))).toEqual([]);
    expect(importCycles([{ from: 'a.ts', to: 'a.ts' }])).toEqual(['a.ts -> a.ts']);
  });

  it('find module-level state: a let, a var, a mutable Map or Set; not a Readonly one', () => {
    // Prepare
    const source = [
      'let current: string | undefined;',
      'export var legacy = 1;',
      'const listeners = new Set<() => void>();',
      "const NAMES: ReadonlySet<string> = new Set(['a']);",
      'function f() {',
      '  let local = 0;',
      '}',
    ].join('\n');

    // Act / Assess
    expect(moduleGlobalState('x.ts', source)).toEqual([
      'x.ts: let current: string | undefined;',
      'x.ts: export var legacy = 1;',
      'x.ts: const listeners = new Set<() => void>();',
    ]);
  });

  it('resolve relative specifiers to repository paths and leave packages as they are', () => {
    // Act / Assess
    expect(resolveSpecifier('shared/store/s.ts', '../errors.js')).toBe('shared/errors.ts');
    expect(resolveSpecifier('shared/store/s.ts', './t.js')).toBe('shared/store/t.ts');
    expect(resolveSpecifier('shared/store/s.ts', '@aws-sdk/client-s3')).toBe('@aws-sdk/client-s3');
    expect(
      specifiersOf(
        "import type { A } from './a.js';\nexport { B } from \"../b.js\";\nawait import('./c.js');",
      ),
    ).toEqual(['./a.js', '../b.js', './c.js']);
  });
});
