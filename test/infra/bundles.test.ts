import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { isBuiltin, SourceMap } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { BENCH_ENV } from '../../bench/env.js';
import {
  AREA_NATIVE_MODULES,
  BUILTIN_STAND_INS,
  buildFunctionCode,
  FUNCTION_ENTRY_FILE,
  SELF_CONTAINED_DIR,
} from '../../infra/constructs/bundling.js';

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
 * Modules no function loads at cold start (shared/aws/runtime.ts, shared/crypto/envelope.ts,
 * shared/mail/ses-mailer.ts, functions/query/handler.ts): the X-Ray tracer unless STRONGROOM_TRACING is on,
 * the Encryption SDK (about 280 KiB of CommonJS), SES, pg, S3 and IAM (functions/tenants/handler.ts,
 * functions/storage/handler.ts, shared/store/tenant-storage-access.ts), and STS's client
 * (shared/store/tenant-data-client.ts: the first tenant whose scoped credentials are not cached), each loaded
 * by the first request that uses it.
 */
const LOADED_ON_USE: Readonly<Record<string, RegExp>> = {
  'the X-Ray tracer': /aws-xray-sdk-core|@aws-lambda-powertools\/tracer/,
  'the Encryption SDK': /@aws-crypto\/|asn1\.js|bn\.js/,
  'the SES client': /@aws-sdk\/client-sesv2/,
  pg: /node_modules\/pg(-[a-z]+)?\//,
  'the S3 client and presigner': /@aws-sdk\/(client-s3|s3-request-presigner)\//,
  'the IAM client': /@aws-sdk\/client-iam\//,
  'the STS client': /@aws-sdk\/client-sts\//,
  // Only the Encryption SDK's branch key store (hierarchical keyring, unused) asks for the whole DynamoDB
  // client; from its CommonJS entry it put every command schema into the functions' init graph
  // (shared/crypto/envelope-sdk.ts).
  'the aggregated DynamoDB client and its waiters':
    /@aws-sdk\/client-dynamodb\/dist-es\/(DynamoDB\.js|waiters\/)/,
};

/**
 * Per handler, the modules of its route groups that its cold start does not load (each is loaded with
 * `await import()` by the first request of its group).
 */
const ROUTE_GROUP_MODULES: Readonly<Record<string, RegExp>> = {
  // Registration, password sign-in, sessions and the caller's account are built at load. The account settings
  // (password, TOTP, sign-in history), mail (verification, reset, notices), TOTP (otplib), passkeys, OpenID
  // sign-in and the address checks of requests to tenants' IdPs are not, nor are the tenant-scoped clients,
  // which the auth function never uses: it writes platform events only (STS is out of every function's init:
  // LOADED_ON_USE). The account, passkey and OpenID routes' definitions (their schemas) and implementations are
  // loaded by the group's first request too (functions/auth/lazy/*-routes.ts).
  [path.join('functions', 'auth', 'handler.ts')]:
    /shared\/(services\/(account-email|account-settings|passkeys|oidc-sign-in)|store\/(passkey-store|oidc-flows|tenant-data-client)|schemas\/(account|passkeys|oidc)|mail\/templates|crypto\/(totp|envelope)|connectors\/outbound-http|domain\/connection-host)\.ts$|functions\/auth\/lazy\/(account|passkey|oidc)-routes\.ts$|node_modules\/(@otplib|otplib)\//,
  // A query over the tenant's records (the DynamoDB compiler and reader) and one against a connection (the SQL
  // compiler, the connection password's decryption, the connections store) each load their own path.
  [path.join('functions', 'query', 'handler.ts')]:
    /shared\/(services\/query|domain\/(dynamo-query-compiler|sql-compiler)|store\/(tenant-records-reader|tenant-key-directory|connections-store)|crypto\/envelope)\.ts$/,
  // Listing and reading connections need no encryption: the envelope cipher and the tenant key directory are
  // loaded by the first create, update or reveal.
  [path.join('functions', 'connections', 'handler.ts')]:
    /shared\/(store\/tenant-key-directory|crypto\/envelope)\.ts$/,
  // Listing and exporting the audit log read HEAD items (shared/store/audit-stored-items.ts); chain verification
  // is loaded by the first verification (AuditLogReader.verify).
  [path.join('functions', 'audit', 'handler.ts')]: /shared\/store\/audit-verification\.ts$/,
  // Tenants: each route group's service (tenancy, invitations, deletion, tenant SSO, exports) is a module of
  // functions/tenants/lazy/, loaded by the group's first request with the stores and ports only it uses. The
  // sign-in schemas (shared/schemas/auth.ts) are in no part of it: tenant deletion's fresh factor comes from
  // shared/schemas/factors.ts.
  [path.join('functions', 'tenants', 'handler.ts')]:
    /shared\/(services\/(tenancy|invitations|tenant-export|tenant-sso|second-factor|storage-locations|storage-credentials)|store\/(tenant-store|storage-store|tenant-storage-access|tenant-sso-store)|domain\/tenant-storage-role|crypto\/envelope|mail\/function-mail|connectors\/outbound-http|schemas\/auth)\.ts$/,
  // Storage: the deps its route groups share (the registry, the tenant's storage role, the credential vendor, the
  // members, the store key pairs: functions/storage/lazy/deps.ts) are made by the first request of any group,
  // and each group's service (credentials, remote signing, locations and instances, the self-test, revocation)
  // is a chunk of its own: a vend loads neither the management routes' code nor remote signing's checks.
  [path.join('functions', 'storage', 'handler.ts')]:
    /shared\/(services\/storage-(credentials|remote-signing|locations|self-test|credential-revocation)|store\/(storage-store|storage-vendor|vended-credential-cache|tenant-storage-access|tenant-store|storage-path-owners|store-key-pairs|storage-request-signer)|domain\/(storage-signing|storage-revocation|tenant-storage-role)|crypto\/envelope|connectors\/(s3-compatible|outbound-http))\.ts$|functions\/storage\/lazy\/deps\.ts$/,
};

/**
 * Node's modules no cold start loads (`process.moduleLoadList` names), which the ES imports of the modules
 * bundled as stand-ins (BUILTIN_STAND_INS) loaded: web streams' public module, and timers/promises
 * (node:timers' `promises` export); node:net's BlockList and SocketAddress, which its ES import loaded
 * (shared/http/client-ip.ts); and web streams' ReadableStream, which the S3 client's share of the SDK's core
 * loaded before it was built apart (SELF_CONTAINED_MODULES).
 */
const NOT_LOADED_AT_COLD_START = [
  'NativeModule stream/web',
  'NativeModule timers/promises',
  'NativeModule internal/blocklist',
  'NativeModule internal/socketaddress',
  'NativeModule internal/webstreams/readablestream',
];

/** The S3 client and presigner, which only the bundle's self-contained module holds (SELF_CONTAINED_MODULES). */
const S3_PACKAGES = /node_modules\/@aws-sdk\/(client-s3|s3-request-presigner)\//;

/** The functions whose lazy chunks use S3: tenant export and deletion; storage locations' deletion and checks. */
const S3_USERS = [
  path.join('functions', 'tenants', 'handler.ts'),
  path.join('functions', 'storage', 'handler.ts'),
];

/** The inputs of index.mjs and of every chunk it imports statically, transitively: what a cold start loads. */
function initGraphInputs(metafile: Metafile): string[] {
  return initGraphOutputs(metafile).flatMap((output) => Object.keys(metafile.outputs[output]?.inputs ?? {}));
}

/** The external modules (native ones) that index.mjs or a chunk it imports statically imports statically. */
function initGraphExternals(metafile: Metafile): string[] {
  return initGraphOutputs(metafile).flatMap((output) =>
    (metafile.outputs[output]?.imports ?? [])
      .filter((i) => i.external && i.kind === 'import-statement' && !isBuiltin(i.path))
      .map((i) => i.path),
  );
}

/** index.mjs and every chunk it imports statically, transitively. */
function initGraphOutputs(metafile: Metafile): string[] {
  const entry = Object.keys(metafile.outputs).find((o) => o.endsWith('/index.mjs'));
  if (!entry) throw new Error('no index.mjs among the outputs');
  const seen = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const i of metafile.outputs[output]?.imports ?? [])
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  return [...seen];
}

/**
 * Where a function's bundle is built for the tests, emptied first (a chunk left by an earlier build would be
 * imported too): inside node_modules, so its external modules resolve.
 */
function outdirOf(file: string): string {
  const outdir = path.join(
    ROOT,
    'node_modules',
    '.cache',
    'bundle-test',
    file.replace(/[/\\]/g, '-').replace(/\.ts$/, ''),
  );
  rmSync(outdir, { recursive: true, force: true });
  return outdir;
}

/**
 * Bundles every function as CDK does (infra/constructs/bundling.ts `buildFunctionCode`, without installing
 * native modules): the infra tests synthesise without bundling, so this is what catches a native module or a
 * test-only package reaching a bundle.
 */
describe('function bundles', () => {
  // Builds run synchronously (CDK's local bundling must): give the test runner's own messages a turn of the
  // event loop between tests, so a long run of builds does not time them out.
  afterEach(() => new Promise((resolve) => setTimeout(resolve, 0)));

  it.each(ENTRIES)(
    '$file bundles with only its declared native modules and nothing test-only',
    async ({ area, file }) => {
      // Act: bundle it as CDK does
      const outdir = outdirOf(file);
      const result = buildFunctionCode({
        entry: path.join(ROOT, file),
        outdir,
        projectRoot: ROOT,
        nativeModules: AREA_NATIVE_MODULES[area] ?? [],
      });

      // Assess: no errors, no test-only package, and the auth function's native and heavy modules only there
      expect(result.errors).toEqual([]);
      // A cold start loads index.mjs alone: the chunks it imported statically are merged into it.
      expect(initGraphOutputs(result.metafile)).toHaveLength(1);
      // What a cold start loads leaves out the modules a few routes use: each is a chunk behind `await import()`.
      const initInputs = initGraphInputs(result.metafile);
      for (const [lazy, pattern] of Object.entries(LOADED_ON_USE)) {
        expect(
          initInputs.filter((i) => pattern.test(i)),
          `${lazy} in the init graph of ${file}`,
        ).toEqual([]);
      }
      // The public function answers 404/405 from the route table; the route list (every area's schemas) is a
      // chunk loaded for the OpenAPI document only.
      if (area === 'public')
        expect(
          initInputs.filter((i) => i.startsWith('shared/schemas/') && !/\/(public|route-table)\.ts$/.test(i)),
        ).toEqual([]);
      // The audit log's reader and chain verification serve the audit function's routes and tenant exports
      // (shared/store/audit-store.ts `readerFor` loads them); every other API function only appends events,
      // which needs shared/domain/audit-append.ts and none of the chain (shared/domain/audit-chain.ts).
      if (file.endsWith('handler.ts') && area !== 'audit')
        expect(
          initInputs.filter((i) =>
            /shared\/(store\/audit-(log-reader|verification)|domain\/audit-chain)\.ts$/.test(i),
          ),
        ).toEqual([]);
      // Sign-in, account and factor operations on the identity table (IdentityStore, its sign-in history)
      // are the auth function's; every other function's authorizer and services use IdentityRecords.
      if (area !== 'auth')
        expect(
          initInputs.filter((i) => /shared\/store\/(identity-store|sign-in-history)\.ts$/.test(i)),
          `the identity store in the init graph of ${file}`,
        ).toEqual([]);
      // Tenant key policies are built by tenant creation (shared/crypto/tenant-keys.ts, loaded on use); what the
      // API functions share with them (context keys and purposes, the key tag) is shared/domain/key-context.ts.
      if (file.endsWith('handler.ts'))
        expect(initInputs.filter((i) => i.endsWith('shared/domain/key-policy.ts'))).toEqual([]);
      // Each handler builds at load what every request needs (the route table, the pipeline, the authorizer);
      // a route group's own service, store and domain modules are loaded by the first request of that group.
      const routeGroupModules = ROUTE_GROUP_MODULES[file];
      if (routeGroupModules)
        expect(
          initInputs.filter((i) => routeGroupModules.test(i)),
          `route-group modules in the init graph of ${file}`,
        ).toEqual([]);
      // argon2's native binding is opened by the first password hash or check (shared/crypto/passwords.ts).
      expect(initGraphExternals(result.metafile), `native modules loaded at init by ${file}`).toEqual([]);
      // The API functions' KMS calls (tenant keys, envelope data keys, chain MAC checks) serve a few routes;
      // the audit sequencer and the daily job MAC every batch, so they load KMS at init.
      if (file.endsWith('handler.ts'))
        expect(initInputs.filter((i) => i.includes('@aws-sdk/client-kms/'))).toEqual([]);
      // A stand-in for a Node module (BUILTIN_STAND_INS) exports only what its importers take: no other
      // module imports one.
      for (const [input, { imports }] of Object.entries(result.metafile.inputs))
        for (const { original } of imports) {
          const standIn =
            original !== undefined && Object.hasOwn(BUILTIN_STAND_INS, original)
              ? BUILTIN_STAND_INS[original]
              : undefined;
          if (standIn)
            expect(
              standIn.importers.some((name) => input.includes(`node_modules/${name}/`)),
              `${input} imports the stand-in for ${original}`,
            ).toBe(true);
        }
      // The S3 client is in no file of the function's own build, not even a lazy chunk: it and the part of the
      // SDK's core it uses are the self-contained module's, which the functions that use S3 carry.
      const isSelfContained = (output: string) => output.includes(`/${SELF_CONTAINED_DIR}/`);
      const own = Object.entries(result.metafile.outputs).filter(([output]) => !isSelfContained(output));
      expect(
        own.flatMap(([, output]) => Object.keys(output.inputs)).filter((i) => S3_PACKAGES.test(i)),
      ).toEqual([]);
      expect(
        Object.keys(result.metafile.outputs).filter(
          (output) => isSelfContained(output) && output.endsWith('/s3.mjs'),
        ),
      ).toHaveLength(S3_USERS.includes(file) ? 1 : 0);
      const inputs = Object.keys(result.metafile.inputs);
      for (const forbidden of ['@cloud-copilot', 'vitest', 'aws-sdk-client-mock', 'fast-check', '/test/']) {
        expect(
          inputs.filter((i) => i.includes(forbidden)),
          forbidden,
        ).toEqual([]);
      }
      // Every schema is zod/mini through shared/domain/zod.ts: zod classic (about twice mini's weight in each
      // function's init) is in no bundle.
      expect(
        inputs.filter((i) => i.includes('node_modules/zod/v4/classic/')),
        `zod classic in ${file}`,
      ).toEqual([]);
      // Where it was built is not in the code (this build is inside node_modules, as the bench's assembly is):
      // the merge of the init chunks once headed their legal comments with their paths there.
      expect(readFileSync(path.join(outdir, 'index.mjs'), 'utf8')).not.toContain(path.basename(outdir));
      // argon2 (a native binary) belongs to the auth function only.
      if (area !== 'auth') expect(inputs.filter((i) => i.includes('argon2'))).toEqual([]);
      // So does the WebAuthn library (passkeys are the auth function's routes only).
      if (area !== 'auth') expect(inputs.filter((i) => i.includes('@simplewebauthn'))).toEqual([]);
      // So do the OpenID relying party and the Secrets Manager client its provider secrets are read with.
      if (area !== 'auth')
        expect(inputs.filter((i) => /openid-client|oauth4webapi|client-secrets-manager/.test(i))).toEqual([]);
    },
  );

  it.each(ENTRIES)(
    '$file loads, and so does every chunk of it, against the merged index.mjs',
    async ({ area, file }) => {
      // Prepare
      const outdir = outdirOf(file);
      buildFunctionCode({
        entry: path.join(ROOT, file),
        outdir,
        projectRoot: ROOT,
        nativeModules: AREA_NATIVE_MODULES[area] ?? [],
      });
      const chunks = readdirSync(path.join(outdir, 'chunks')).filter((f) => f.endsWith('.mjs'));
      const selfContained = S3_USERS.includes(file)
        ? readdirSync(path.join(outdir, SELF_CONTAINED_DIR), { recursive: true, encoding: 'utf8' })
            .filter((f) => f.endsWith('.mjs'))
            .map((f) => path.join(SELF_CONTAINED_DIR, f))
        : [];
      const urls = [FUNCTION_ENTRY_FILE, ...chunks.map((c) => `chunks/${c}`), ...selfContained].map(
        (f) => pathToFileURL(path.join(outdir, f)).href,
      );

      // Act: a fresh process imports index.mjs, then every chunk (a name a chunk imports from a merged one
      // and that index.mjs does not re-export fails the import, and so does a chunk's import of a self-contained
      // module the bundle lacks), then the self-contained modules' files
      const script = [
        `const urls = ${JSON.stringify(urls)};`,
        'const before = new Set(process.moduleLoadList);',
        'const index = await import(urls[0]);',
        'const atColdStart = process.moduleLoadList.filter((name) => !before.has(name));',
        'for (const url of urls.slice(1)) await import(url);',
        'console.log(JSON.stringify({ handler: typeof index.handler, loaded: urls.length, atColdStart }));',
      ].join('\n');
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', ...BENCH_ENV },
        cwd: ROOT,
        encoding: 'utf8',
      });

      // Assess
      const result = JSON.parse(stdout.trim().split('\n').pop() ?? '');
      expect(result).toEqual({
        handler: 'function',
        loaded: chunks.length + selfContained.length + 1,
        atColdStart: expect.any(Array),
      });
      expect(chunks.length).toBeGreaterThan(0);
      // Node's own modules: none that a stand-in or client-ip.ts keeps out (and one a cold start does load)
      expect(result.atColdStart.filter((name: string) => NOT_LOADED_AT_COLD_START.includes(name))).toEqual(
        [],
      );
      expect(result.atColdStart).toContain('NativeModule https');
    },
  );

  it('maps the merged index.mjs back to the TypeScript sources', () => {
    // Prepare: the tenants function, whose cold start checks tenant ids (shared/schemas/common.ts)
    const file = path.join('functions', 'tenants', 'handler.ts');
    const outdir = outdirOf(file);
    buildFunctionCode({ entry: path.join(ROOT, file), outdir, projectRoot: ROOT });
    const code = readFileSync(path.join(outdir, FUNCTION_ENTRY_FILE), 'utf8');
    const map = new SourceMap(
      JSON.parse(readFileSync(path.join(outdir, `${FUNCTION_ENTRY_FILE}.map`), 'utf8')),
    );

    // Act: where a message of that module sits in the merged file, and what the map says it came from
    const at = code.indexOf('Not a tenant id');
    const before = code.slice(0, at).split('\n');
    const entry = map.findEntry(before.length - 1, before.at(-1)!.length);

    // Assess
    expect(at).toBeGreaterThan(0);
    expect(entry).toMatchObject({ originalSource: expect.stringMatching(/shared\/schemas\/common\.ts$/) });
  });
});
