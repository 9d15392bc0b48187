import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  buildFunctionCode,
  FUNCTION_ENTRY_FILE,
  SELF_CONTAINED_DIR,
} from '../../infra/constructs/bundling.js';

const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'node_modules', '.cache', 'self-contained-s3-test');
const TENANT = 't_01jx0000000000000000000000';

/**
 * What a function's route does on use as tenants' and storage's do: load the stores that call S3 (tenant
 * export archives with their presigned download, the managed objects' purge), with the S3 client made as the
 * functions make theirs (shared/aws/runtime.ts `client`), tracing on.
 */
const ENTRY =
  "export const handler = async (event: { bucket: string }) => (await import('./route.js')).route(event);\n";

/** The route, a chunk of its own that the entry point loads with `await import()`. */
const ROUTE = `
export async function route(event: { bucket: string }) {
  const [{ S3Client, CreateBucketCommand, PutObjectCommand, ListObjectVersionsCommand }, { functionRuntime }, { TenantExportArchives }, { ManagedObjects }] =
    await Promise.all([
      import('@aws-sdk/client-s3'),
      import('${ROOT}/shared/aws/runtime.js'),
      import('${ROOT}/shared/store/tenant-export-archives.js'),
      import('${ROOT}/shared/store/managed-objects.js'),
    ]);
  // As the functions make it: with their settings and, tracing on, captured by the tracer of their own copy.
  const s3 = functionRuntime().client(S3Client);
  await s3.send(new CreateBucketCommand({ Bucket: event.bucket }));
  const archives = new TenantExportArchives({ s3, bucket: event.bucket });
  const before = await archives.head('${TENANT}', 'x_1');
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: 'tenants/${TENANT}/exports/x_1.json', Body: '{"ok":true}' }));
  const after = await archives.head('${TENANT}', 'x_1');
  const download = await fetch(await archives.downloadUrl('${TENANT}', 'x_1', 60));
  const purged = await new ManagedObjects({ s3, bucket: event.bucket }).purge('tenants/${TENANT}/');
  const left = await s3.send(new ListObjectVersionsCommand({ Bucket: event.bucket, Prefix: 'tenants/' }));
  return {
    before: before ?? null,
    sizeAfter: after?.sizeBytes,
    download: { status: download.status, body: await download.text(), disposition: download.headers.get('content-disposition') },
    purged,
    left: (left.Versions ?? []).length + (left.DeleteMarkers ?? []).length,
  };
}
`;

/**
 * The S3 client and presigner are built apart from each function's code, as a self-contained module with its
 * own copy of the SDK's core (infra/constructs/bundling.ts SELF_CONTAINED_MODULES), and the function's lazy
 * chunks import it from the bundle. Here such a bundle's stores work against the emulator, through that copy
 * and nothing else: the build's own files hold none of the S3 client.
 */
describe('the self-contained S3 module of a bundle', () => {
  let outdir: string;
  let metafile: Metafile;

  beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path.join(DIR, 'entry.ts'), ENTRY);
    writeFileSync(path.join(DIR, 'route.ts'), ROUTE);
    outdir = path.join(DIR, 'out');
    ({ metafile } = buildFunctionCode({ entry: path.join(DIR, 'entry.ts'), outdir, projectRoot: ROOT }));
  });

  it('serves a lazy route: head (404 and found), a presigned download and a purge', async () => {
    // Prepare
    const script = [
      `const { handler } = await import(${JSON.stringify(pathToFileURL(path.join(outdir, FUNCTION_ENTRY_FILE)).href)});`,
      `console.log(JSON.stringify(await handler({ bucket: 'self-contained-s3-${process.pid}' })));`,
    ].join('\n');

    // Act: a fresh process, as Lambda starts one
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_ENDPOINT_URL: inject('awsEndpoint'),
        AWS_REGION: 'eu-central-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        STRONGROOM_TRACING: 'on',
        AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      },
      cwd: DIR,
      encoding: 'utf8',
    });

    // Assess
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toEqual({
      before: null,
      sizeAfter: 11,
      download: {
        status: 200,
        body: '{"ok":true}',
        disposition: `attachment; filename="${TENANT}-x_1.json"`,
      },
      purged: { deleted: 1, done: true },
      left: 0,
    });
    const files = readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.mjs'),
    );
    expect(files).toContain(path.join(SELF_CONTAINED_DIR, 's3.mjs'));
    // The build's own files import it and hold none of the S3 client.
    const own = Object.entries(metafile.outputs).filter(([o]) => !o.includes(`/${SELF_CONTAINED_DIR}/`));
    expect(
      own
        .flatMap(([, o]) => Object.keys(o.inputs))
        .filter((i) => /@aws-sdk\/(client-s3|s3-request-presigner)\//.test(i)),
    ).toEqual([]);
  });

  it.each([
    [
      'imports it at init',
      {
        entry:
          "import { S3Client } from '@aws-sdk/client-s3';\nexport const handler = async () => new S3Client({});\n",
      },
      /index\.mjs/,
    ],
    [
      'loads it from index.mjs on use',
      {
        entry:
          "export const handler = async () => (await import('@aws-sdk/s3-request-presigner')).getSignedUrl;\n",
      },
      /index\.mjs/,
    ],
    [
      "requires it from a lazy chunk (esbuild's require helper, in index.mjs, would resolve it)",
      {
        entry: "export const handler = async () => (await import('./route.js')).route();\n",
        'route.ts': "export const route = () => require('@aws-sdk/client-s3').S3Client;\n",
      },
      /chunks\/route-/,
    ],
  ])('fails the build of an entry point that %s', (name, files: Record<string, string>, importer) => {
    // Prepare
    const dir = path.join(DIR, name.replace(/\W+/g, '-'));
    mkdirSync(dir, { recursive: true });
    for (const [file, source] of Object.entries(files))
      writeFileSync(path.join(dir, file === 'entry' ? 'entry.ts' : file), source);

    // Act
    const build = () =>
      buildFunctionCode({
        entry: path.join(dir, 'entry.ts'),
        outdir: path.join(dir, 'out'),
        projectRoot: ROOT,
      });

    // Assess: the module would not be found at ../self-contained/ (and at init it would cost every cold start)
    expect(build).toThrow(/may be imported only by modules that are loaded with await import\(\), not by /);
    expect(build).toThrow(importer);
  });
});
