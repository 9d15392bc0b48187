import { readdirSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { AREA_NATIVE_MODULES, functionBuildOptions } from '../../infra/constructs/bundling.js';

const ROOT = path.resolve(__dirname, '../..');

/** Every Lambda entry point: each area's handler and the non-API entry points beside them. */
const ENTRIES = readdirSync(path.join(ROOT, 'functions'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(path.join(ROOT, 'functions', d.name))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ area: d.name, file: path.join('functions', d.name, f) })),
  );

/**
 * Bundles every function with CDK's own options (infra/constructs/bundling.ts), in memory: the infra tests synthesise
 * without bundling, so this is what catches a native module or a test-only package reaching a bundle.
 */
describe('function bundles', () => {
  it.each(ENTRIES)(
    '$file bundles with only its declared native modules and nothing test-only',
    async ({ area, file }) => {
      // Act: bundle it as CDK does
      const result = await build({
        ...functionBuildOptions(
          path.join(ROOT, file),
          path.join(ROOT, 'node_modules', '.cache', 'bundle-test'),
          ROOT,
          AREA_NATIVE_MODULES[area] ?? [],
        ),
        write: false,
        logLevel: 'silent',
      });

      // Assess: no errors, no test-only package, and the auth function's native and heavy modules only there
      expect(result.errors).toEqual([]);
      const inputs = Object.keys(result.metafile.inputs);
      for (const forbidden of ['@cloud-copilot', 'vitest', 'aws-sdk-client-mock', 'fast-check', '/test/']) {
        expect(
          inputs.filter((i) => i.includes(forbidden)),
          forbidden,
        ).toEqual([]);
      }
      // argon2 (a native binary) belongs to the auth function only.
      if (area !== 'auth') expect(inputs.filter((i) => i.includes('argon2'))).toEqual([]);
      // So does the WebAuthn library (passkeys are the auth function's routes only).
      if (area !== 'auth') expect(inputs.filter((i) => i.includes('@simplewebauthn'))).toEqual([]);
      // So do the OpenID relying party and the Secrets Manager client its provider secrets are read with.
      if (area !== 'auth')
        expect(inputs.filter((i) => /openid-client|oauth4webapi|client-secrets-manager/.test(i))).toEqual([]);
    },
  );
});
