import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-s3';
import type { FinalizeRequestMiddleware, MetadataBearer } from '@smithy/types';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { StrongroomApiError, StrongroomClient } from '../../shared/sdk/client.js';
import {
  REMOTE_SIGNING_ACCESS_KEY_ID,
  remoteSigningCredentials,
  strongroomSigning,
} from '../../shared/sdk/signing.js';
import {
  addMember,
  signUp,
  type TenantWithRoles,
  tenantWithEveryRole,
} from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { useTestApi } from '../support/local-api.js';
import { tenantAuditEvents } from '../support/storage-sessions.js';

const api = useTestApi();
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let awsEndpoint: string;
let bucket: string;
let locationId: string;
let prefix: string;
/** The tenant key a managed write must name (the vend's sse hint): the emulator refuses writes without it. */
let sse: { ServerSideEncryption: 'aws:kms'; SSEKMSKeyId: string };

const signPath = (tenantId: string, id = locationId) =>
  `/v1/tenants/${tenantId}/storage-locations/${id}/sign`;
/** Iceberg's S3SignRequest for the emulator's path-style URL of `path` (already percent-encoded). */
const signRequest = (method: string, path: string, extra: Record<string, unknown> = {}) => ({
  region: TEST_REGION,
  uri: `${awsEndpoint}/${bucket}/${path}`,
  method,
  headers: { 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'] },
  ...extra,
});
const sign = (token: string, body: unknown, tenantId = acme.tenantId, id = locationId) =>
  api.request('POST', signPath(tenantId, id), { token, body });

/** An S3 client with no AWS credentials of its own: every request is signed by Strongroom as `token`. */
function remoteSignedS3(token: string, seen?: string[]) {
  const s3 = new S3Client({
    endpoint: awsEndpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: remoteSigningCredentials,
  });
  s3.middlewareStack.use(
    strongroomSigning({
      client: new StrongroomClient({ endpoint: api.url, token }),
      tenantId: acme.tenantId,
      locationId,
      region: TEST_REGION,
    }),
  );
  // What reached the emulator: the Authorization header of each request, after the remote signature.
  const watch: FinalizeRequestMiddleware<object, MetadataBearer> = (next) => async (args) => {
    seen?.push((args.request as { headers: Record<string, string> }).headers.authorization ?? 'none');
    return next(args);
  };
  s3.middlewareStack.addRelativeTo(
    watch as FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes>,
    {
      relation: 'after',
      toMiddleware: 'strongroomSigningMiddleware',
      name: 'seenAuthorization',
    },
  );
  return s3;
}

const signedEvents = (tenantId: string) =>
  tenantAuditEvents(awsEndpoint, tenantId, 'storage-requests.signed');

beforeAll(async () => {
  awsEndpoint = inject('awsEndpoint');
  bucket = process.env.STORAGE_BUCKET!;
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(created.status, created.text).toBe(201);
  locationId = created.body.locationId;
  prefix = created.body.prefix;
  const vend = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
    token: acme.users.editor.token,
    body: { location: locationId, access: 'write' },
  });
  expect(vend.status, vend.text).toBe(200);
  sse = { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: vend.body.sse.keyArn };
});

describe('the AWS SDK v3 S3 client with the Strongroom signing plugin', () => {
  it('puts a streamed body (aws-chunked with a trailing checksum) that reads back byte for byte', async () => {
    // Prepare: an editor's client and a body the SDK can only stream
    const s3 = remoteSignedS3(acme.users.editor.token);
    const key = `${prefix}/sdk/streamed.bin`;
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));

    // Act
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: Readable.from([content.subarray(0, 30_000), content.subarray(30_000)]),
        ContentLength: content.length,
        ...sse,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    // Assess: the stored object is the body, not its chunk framing
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(content)).toBe(true);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  });

  it('puts, gets, lists and deletes inside the prefix with no AWS credentials of its own', async () => {
    // Prepare: an editor's client (write), whose requests are watched on their way to the emulator
    const seen: string[] = [];
    const s3 = remoteSignedS3(acme.users.editor.token, seen);
    const keys = ['a.txt', 'b.txt', 'deeper/c.txt'].map((k) => `${prefix}/sdk/${k}`);

    // Act: write three objects, read one back, list, delete one by one and in a batch
    for (const key of keys)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}`, ...sse }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[2] }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/sdk/` }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[0] }));
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(1).map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/sdk/` }));

    // Assess: the data went through, and every request carried a signature by an STS session Strongroom holds
    expect(await got.Body?.transformToString()).toBe(`body of ${keys[2]}`);
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([...keys].sort());
    expect(after.Contents ?? []).toEqual([]);
    expect(seen).toHaveLength(8);
    for (const authorization of seen) {
      expect(authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=ASIA[A-Z0-9]+/\\d{8}/${TEST_REGION}/s3/aws4_request, SignedHeaders=`,
        ),
      );
      expect(authorization).not.toContain(REMOTE_SIGNING_ACCESS_KEY_ID);
    }
  });

  it('a viewer reads and lists; its PUT is refused by Strongroom with 403 before reaching the store', async () => {
    // Prepare: an object written by the editor
    const key = `${prefix}/viewer/read-me.txt`;
    await remoteSignedS3(acme.users.editor.token).send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'hi', ...sse }),
    );
    const seen: string[] = [];
    const s3 = remoteSignedS3(acme.users.viewer.token, seen);

    // Act
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const put = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/viewer/new.txt`, Body: 'no' }))
      .catch((error: unknown) => error);

    // Assess: the read worked; the write never left the client
    expect(await got.Body?.transformToString()).toBe('hi');
    expect(put).toBeInstanceOf(StrongroomApiError);
    expect((put as StrongroomApiError).status).toBe(403);
    expect(seen).toHaveLength(1);
  });
});

describe('POST …/storage-locations/{id}/sign refuses every escape, naming the field', () => {
  const deleteBody = (keys: string[]) =>
    `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${keys
      .map((k) => `<Object><Key>${k}</Key></Object>`)
      .join('')}<Quiet>true</Quiet></Delete>`;
  const cases: [string, () => Record<string, unknown>, string][] = [
    ['a key outside the prefix', () => signRequest('PUT', 'tenants/elsewhere/x.txt'), 'body.uri'],
    ['a sibling prefix', () => signRequest('PUT', `${prefix}-other/x.txt`), 'body.uri'],
    ['a ".." segment', () => signRequest('GET', `${prefix}/../elsewhere/x.txt`), 'body.uri'],
    ['a percent-encoded ".." segment', () => signRequest('GET', `${prefix}/%2e%2E/x.txt`), 'body.uri'],
    ['an encoded slash', () => signRequest('GET', `${prefix}%2F..%2Felsewhere`), 'body.uri'],
    ['a double slash', () => signRequest('GET', `${prefix}//x.txt`), 'body.uri'],
    ['the prefix without its slash', () => signRequest('PUT', prefix), 'body.uri'],
    [
      'DeleteObjects with one key outside',
      () =>
        signRequest('POST', '?delete', {
          uri: `${awsEndpoint}/${bucket}?delete`,
          body: deleteBody([`${prefix}/ok.txt`, `${prefix}-other/not-ok.txt`]),
        }),
      'body.body.Delete.Object[1].Key',
    ],
    [
      'DeleteObjects with a comment hiding markup',
      () =>
        signRequest('POST', '', {
          uri: `${awsEndpoint}/${bucket}?delete`,
          body: `<Delete><Object><Key>${prefix}/ok.txt</Key><!-- --></Object></Delete>`,
        }),
      'body.body',
    ],
    [
      'DeleteObjects without its body',
      () => signRequest('POST', '', { uri: `${awsEndpoint}/${bucket}?delete` }),
      'body.body',
    ],
    [
      'a listing of the sibling prefixes',
      () =>
        signRequest('GET', '', {
          uri: `${awsEndpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`,
        }),
      'body.uri',
    ],
    [
      'a listing of a sibling prefix',
      () =>
        signRequest('GET', '', {
          uri: `${awsEndpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(`${prefix}-other/`)}`,
        }),
      'body.uri',
    ],
    [
      'another bucket',
      () => ({ ...signRequest('GET', ''), uri: `${awsEndpoint}/other-bucket/${prefix}/x.txt` }),
      'body.uri',
    ],
    [
      'another host',
      () => ({ ...signRequest('GET', ''), uri: `http://169.254.169.254/${bucket}/${prefix}/x.txt` }),
      'body.uri',
    ],
    [
      'user information in the URI',
      () => ({
        ...signRequest('GET', ''),
        uri: awsEndpoint.replace('//', '//u:p@') + `/${bucket}/${prefix}/x.txt`,
      }),
      'body.uri',
    ],
    [
      'the bucket ACL',
      () => ({ ...signRequest('GET', ''), uri: `${awsEndpoint}/${bucket}?acl` }),
      'body.uri',
    ],
    [
      'the bucket policy',
      () => ({ ...signRequest('PUT', ''), uri: `${awsEndpoint}/${bucket}?policy` }),
      'body.uri',
    ],
    ["an object's ACL", () => signRequest('PUT', `${prefix}/x.txt?acl`), 'body.uri'],
    [
      'a canned ACL on upload',
      () => signRequest('PUT', `${prefix}/x.txt`, { headers: { 'x-amz-acl': ['public-read'] } }),
      'body.headers.x-amz-acl',
    ],
    [
      'a copy from outside the prefix',
      () =>
        signRequest('PUT', `${prefix}/copy.txt`, {
          headers: { 'x-amz-copy-source': [`${bucket}/tenants/elsewhere/x.txt`] },
        }),
      'body.headers.x-amz-copy-source',
    ],
    [
      'another region',
      () => ({ ...signRequest('GET', `${prefix}/x.txt`), region: 'eu-central-1' }),
      'body.region',
    ],
  ];

  it.each(cases)('%s', async (_what, request, field) => {
    // Act
    const res = await sign(acme.users.editor.token, request());

    // Assess: 400 naming the field; nothing signed
    expect(res.status, res.text).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
    expect(res.body.headers).toBeUndefined();
  });

  it('signs a DeleteObjects only for the body it checked: the payload hash is that body’s', async () => {
    // Prepare
    const body = deleteBody([`${prefix}/one.txt`, `${prefix}/two.txt`]);

    // Act: the client claims an unsigned payload
    const res = await sign(
      acme.users.editor.token,
      signRequest('POST', '', { uri: `${awsEndpoint}/${bucket}?delete`, body }),
    );

    // Assess: S3 will refuse any other body
    expect(res.status, res.text).toBe(200);
    expect(res.body.headers['x-amz-content-sha256']).toEqual([
      createHash('sha256').update(body).digest('hex'),
    ]);
  });
});

describe('signing writes under the tenant key of a managed location', () => {
  it('signs the SSE headers naming the tenant key (which the write session demands) and refuses any other key', async () => {
    // Prepare: the tenant key, as a write vend's sse hint names it
    const vend = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-credentials`, {
      token: acme.users.editor.token,
      body: { location: locationId, access: 'write' },
    });
    expect(vend.status, vend.text).toBe(200);
    const keyArn = vend.body.sse.keyArn as string;
    const put = (key: string) =>
      signRequest('PUT', `${prefix}/iceberg/data-${key.length}.parquet`, {
        headers: {
          'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'],
          'x-amz-server-side-encryption': ['aws:kms'],
          'x-amz-server-side-encryption-aws-kms-key-id': [key],
        },
      });
    const otherKey = keyArn.replace(/key\/.*$/, 'key/00000000-0000-4000-8000-000000000000');

    // Act
    const signed = await sign(acme.users.editor.token, put(keyArn));
    const other = await sign(acme.users.editor.token, put(otherKey));

    // Assess: the headers are among those signed; another key is named as the refused field
    expect(signed.status, signed.text).toBe(200);
    expect(signed.body.headers['x-amz-server-side-encryption-aws-kms-key-id']).toEqual([keyArn]);
    expect(signed.body.headers.authorization[0]).toContain('x-amz-server-side-encryption-aws-kms-key-id');
    expect(other.status, other.text).toBe(400);
    expect(other.body.errors).toEqual([
      {
        path: 'body.headers.x-amz-server-side-encryption-aws-kms-key-id',
        message: expect.stringContaining(keyArn),
      },
    ]);
  });
});

describe('who may sign', () => {
  it('403 to a key without storage:read-credentials, and to a read key asking for a write', async () => {
    // Prepare: two keys of the owner
    const key = async (scopes: string[]) => {
      const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
        token: acme.users.owner.token,
        body: { name: `signing ${scopes.join(' ')}`, scopes },
      });
      expect(res.status, res.text).toBe(201);
      return res.body.key as string;
    };
    const noStorage = await key(['instances:read']);
    const readOnly = await key(['storage:read-credentials']);

    // Act
    const none = await sign(noStorage, signRequest('GET', `${prefix}/x.txt`));
    const read = await sign(readOnly, signRequest('GET', `${prefix}/x.txt`));
    const write = await sign(readOnly, signRequest('PUT', `${prefix}/x.txt`));

    // Assess
    expect(none.status, none.text).toBe(403);
    expect(read.status, read.text).toBe(200);
    expect(write.status, write.text).toBe(403);
    expect(write.body.detail).toContain('storage:write-credentials');
  });

  it("404 for another tenant's location and for an unknown one", async () => {
    // Act
    const stranger = await sign(globex.users.owner.token, signRequest('GET', `${prefix}/x.txt`));
    const viaOwnTenant = await sign(
      globex.users.owner.token,
      signRequest('GET', `${prefix}/x.txt`),
      globex.tenantId,
    );
    const unknown = await sign(
      acme.users.owner.token,
      signRequest('GET', `${prefix}/x.txt`),
      acme.tenantId,
      'l_0000000000000000000000000z',
    );

    // Assess
    expect(stranger.status, stranger.text).toBe(404);
    expect(viaOwnTenant.status, viaOwnTenant.text).toBe(404);
    expect(unknown.status, unknown.text).toBe(404);
  });

  it("a member's removal and demotion take effect on the very next request", async () => {
    // Prepare: two fresh editors, each signing successfully (their credentials are now cached server-side)
    const leaving = await signUp(api, 'leaving');
    const demoted = await signUp(api, 'demoted');
    await addMember(api, acme.users.owner, acme.tenantId, leaving, 'editor');
    await addMember(api, acme.users.owner, acme.tenantId, demoted, 'editor');
    for (const user of [leaving, demoted])
      expect((await sign(user.token, signRequest('PUT', `${prefix}/x.txt`))).status).toBe(200);

    // Act: one is removed, the other becomes a viewer
    const removed = await api.request('DELETE', `/v1/tenants/${acme.tenantId}/members/${leaving.userId}`, {
      token: acme.users.admin.token,
    });
    expect(removed.status, removed.text).toBeLessThan(300);
    const changed = await api.request('PATCH', `/v1/tenants/${acme.tenantId}/members/${demoted.userId}`, {
      token: acme.users.admin.token,
      body: { role: 'viewer' },
    });
    expect(changed.status, changed.text).toBe(200);

    // Assess: no grace period
    expect((await sign(leaving.token, signRequest('GET', `${prefix}/x.txt`))).status).toBe(404);
    expect((await sign(demoted.token, signRequest('PUT', `${prefix}/x.txt`))).status).toBe(403);
    expect((await sign(demoted.token, signRequest('GET', `${prefix}/x.txt`))).status).toBe(200);
  });
});

describe('the audit of signing', () => {
  it('is aggregated: the 1st and 10th signature of a window are reported with their count, not each one', async () => {
    // Prepare: a reviewer who has signed nothing yet
    const before = (await signedEvents(acme.tenantId)).filter(
      (e) => e.details.userId === acme.users.reviewer.userId,
    );
    expect(before).toEqual([]);

    // Act: twelve reads
    for (let i = 0; i < 12; i++) {
      const res = await sign(acme.users.reviewer.token, signRequest('GET', `${prefix}/object-${i}.txt`));
      expect(res.status, res.text).toBe(200);
    }

    // Assess: two events (1 and 10), unless the twelve straddled a 5-minute window (then one more 1)
    const events = (await signedEvents(acme.tenantId)).filter(
      (e) => e.details.userId === acme.users.reviewer.userId,
    );
    const counts = events.map((e) => e.details.count).sort((a, b) => a - b);
    expect([
      [1, 10],
      [1, 1],
      [1, 1, 10],
    ]).toContainEqual(counts);
    expect(events[0]!.details).toMatchObject({ locationId, access: 'read', windowSeconds: 300 });
    expect(JSON.stringify(events)).not.toMatch(/Signature=|secretAccessKey/);
  });

  it('counts deletes on their own and reports refused requests, each window’s first with the last one’s total', async () => {
    // Prepare: an API key of its own, so every count starts at 0
    const created = await api.request('POST', `/v1/tenants/${acme.tenantId}/api-keys`, {
      token: acme.users.owner.token,
      body: { name: 'signing audit', scopes: ['storage:read-credentials', 'storage:write-credentials'] },
    });
    expect(created.status, created.text).toBe(201);
    const key = created.body.key as string;
    const keyId = created.body.keyId as string;
    const events = async (action: string) =>
      (await tenantAuditEvents(awsEndpoint, acme.tenantId, action)).filter((e) => e.actor.apiKeyId === keyId);

    // Act: three writes, two deletes, and two requests for keys outside the location
    for (let i = 0; i < 3; i++)
      expect((await sign(key, signRequest('PUT', `${prefix}/audit-${i}.txt`))).status).toBe(200);
    for (let i = 0; i < 2; i++)
      expect((await sign(key, signRequest('DELETE', `${prefix}/audit-${i}.txt`))).status).toBe(200);
    const outside = await sign(key, signRequest('GET', `tenants/${globex.tenantId}/x.txt`));
    const escaping = await sign(key, signRequest('GET', `${prefix}/../x.txt`));

    // Assess: one write event, one delete event by name, one refusal with its field (a window boundary
    // in between adds a first event of the next window)
    expect(outside.status, outside.text).toBe(400);
    expect(escaping.status, escaping.text).toBe(400);
    const signed = await events('storage-requests.signed');
    const byKind = (kind: string) => signed.filter((e) => e.details.kind === kind);
    expect(byKind('write').map((e) => e.details.count)).toContain(1);
    expect(byKind('write').every((e) => e.details.count === 1)).toBe(true);
    expect(byKind('delete').length).toBeGreaterThanOrEqual(1);
    expect(byKind('delete')[0]!.details).toMatchObject({
      access: 'write',
      operation: 'DeleteObject',
      count: 1,
      previousWindowCount: 0,
    });
    const refused = await events('storage-requests.refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]!.details).toMatchObject({
      locationId,
      field: 'body.uri',
      count: 1,
      windowSeconds: 300,
    });
    expect(refused.every((e) => e.details.count === 1)).toBe(true);
  });
});
