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

  it('mints TenantScopes only in the auth layer, tenant creation and invitation acceptance', () => {
    // Each entry is one call site: the authorizer (a verified membership), tenant creation (the creator's
    // membership is written in that transaction) and an invitation read back and found addressed to the
    // caller (accepting writes the membership under conditions that re-check it). A second call in any of
    // these files fails here too, so a new minting point is always a reviewed change of this list.
    const allowed = new Map([
      ['shared/http/auth.ts', 1],
      ['shared/services/tenancy.ts', 1],
      ['shared/services/invitations.ts', 1],
    ]);
    for (const file of [...RUNTIME, ...files('infra')]) {
      if (file === 'shared/store/tenant-scope.ts') continue;
      const source = readFileSync(path.join(ROOT, file), 'utf8');
      const calls = source.match(/\bmintTenantScope\(/g)?.length ?? 0;
      if (source.includes('mintTenantScope'))
        expect(calls, `${file} mints a TenantScope`).toBe(allowed.get(file) ?? -1);
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
