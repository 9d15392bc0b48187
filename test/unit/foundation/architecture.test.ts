import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../../..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (rel.endsWith('.ts')) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const source = readFileSync(path.join(ROOT, file), 'utf8');
  return [
    ...source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2]!);
}

/** Repository-relative target of a relative import. */
const resolve = (file: string, spec: string) => path.normalize(path.join(path.dirname(file), spec));

const RUNTIME = [...files('shared'), ...files('functions')];

describe('architecture (DESIGN.md §7)', () => {
  it('keeps shared/domain pure: no AWS SDK, middy, Powertools, database or network I/O', () => {
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
    for (const file of files('shared')) {
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        expect(resolve(file, spec), `${file} imports ${spec}`).not.toMatch(/^(functions|infra)\//);
      }
    }
  });

  it("never lets one API area's handlers import another's", () => {
    for (const file of files('functions')) {
      const area = file.split(path.sep)[1];
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = resolve(file, spec);
        if (target.startsWith(`functions${path.sep}`))
          expect(target.split(path.sep)[1], `${file} imports ${spec}`).toBe(area);
      }
    }
  });

  it('mints TenantScopes only in the auth layer and tenant creation', () => {
    const allowed = new Set([
      'shared/http/auth.ts',
      'shared/services/tenancy.ts',
      'shared/store/tenant-scope.ts',
    ]);
    for (const file of [...RUNTIME, ...files('infra')]) {
      const source = readFileSync(path.join(ROOT, file), 'utf8');
      if (source.includes('mintTenantScope')) expect(allowed, `${file} mints a TenantScope`).toContain(file);
    }
  });

  it('never ships the AGPL policy simulator or other test-only packages in runtime code', () => {
    for (const file of [...RUNTIME, ...files('infra')]) {
      for (const spec of imports(file)) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(
          /^(@cloud-copilot|vitest|aws-sdk-client-mock|fast-check)/,
        );
      }
    }
  });
});
