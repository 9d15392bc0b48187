import { describe, expect, it } from 'vitest';
import { sessionPolicyFor } from '../../../shared/domain/storage-policy.js';
import {
  checkSignRequest,
  deleteObjectsKeys,
  SIGNABLE_OPERATIONS,
  type SignableOperation,
  type SigningTarget,
  SignRequestError,
  type SignRequestInput,
} from '../../../shared/domain/storage-signing.js';

const AWS: SigningTarget = { bucket: 'lake', prefix: 'tenants/t1/l1', region: 'eu-west-1', pathStyle: false };
const LOCAL: SigningTarget = { ...AWS, endpoint: 'http://127.0.0.1:4566', pathStyle: true };
const VHOST = 'https://lake.s3.eu-west-1.amazonaws.com';

const request = (method: string, uri: string, extra: Partial<SignRequestInput> = {}): SignRequestInput => ({
  region: 'eu-west-1',
  uri,
  method,
  headers: {},
  ...extra,
});

/** The field a refusal names (the test fails when the request is accepted). */
function refusedField(target: SigningTarget, input: SignRequestInput): string {
  try {
    checkSignRequest(target, input);
  } catch (error) {
    if (error instanceof SignRequestError) return error.field;
    throw error;
  }
  throw new Error(`accepted: ${input.method} ${input.uri}`);
}

describe('checkSignRequest', () => {
  it.each([
    ['GET', `${VHOST}/tenants/t1/l1/data/a.parquet`, 'GetObject', 'read'],
    ['HEAD', `${VHOST}/tenants/t1/l1/data/a.parquet?versionId=3`, 'HeadObject', 'read'],
    ['GET', `${VHOST}/?list-type=2&prefix=tenants%2Ft1%2Fl1%2F&delimiter=%2F`, 'ListObjectsV2', 'read'],
    ['GET', `${VHOST}/?prefix=tenants/t1/l1/data/`, 'ListObjects', 'read'],
    // s3:ListMultipartUploadParts is held by write sessions only.
    ['GET', `${VHOST}/tenants/t1/l1/a?uploadId=u1`, 'ListParts', 'write'],
    ['PUT', `${VHOST}/tenants/t1/l1/data/a%20b.parquet?x-id=PutObject`, 'PutObject', 'write'],
    ['PUT', `${VHOST}/tenants/t1/l1/a?partNumber=2&uploadId=u1`, 'UploadPart', 'write'],
    ['POST', `${VHOST}/tenants/t1/l1/a?uploads`, 'CreateMultipartUpload', 'write'],
    ['POST', `${VHOST}/tenants/t1/l1/a?uploadId=u1`, 'CompleteMultipartUpload', 'write'],
    ['DELETE', `${VHOST}/tenants/t1/l1/a?uploadId=u1`, 'AbortMultipartUpload', 'write'],
    ['DELETE', `${VHOST}/tenants/t1/l1/dir/`, 'DeleteObject', 'write'],
    ['GET', `https://s3.eu-west-1.amazonaws.com/lake/tenants/t1/l1/a`, 'GetObject', 'read'],
  ])('%s %s is %s (%s)', (method, uri, operation, access) => {
    // Act / Assess
    expect(checkSignRequest(AWS, request(method, uri))).toMatchObject({ operation, access });
  });

  it('keeps the path as sent and decodes the query without turning + into a space', () => {
    // Act
    const checked = checkSignRequest(
      LOCAL,
      request('GET', 'http://127.0.0.1:4566/lake/tenants/t1/l1/a%2Bb?x-id=GetObject'),
    );

    // Assess
    expect(checked).toMatchObject({
      hostname: '127.0.0.1',
      port: 4566,
      protocol: 'http:',
      path: '/lake/tenants/t1/l1/a%2Bb',
      query: { 'x-id': 'GetObject' },
      keys: ['tenants/t1/l1/a+b'],
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
  });

  it.each([
    ['outside the prefix', 'GET', `${VHOST}/tenants/t2/l1/a`, {}, 'uri'],
    ['a sibling prefix', 'PUT', `${VHOST}/tenants/t1/l1-other/a`, {}, 'uri'],
    ['the prefix itself', 'PUT', `${VHOST}/tenants/t1/l1`, {}, 'uri'],
    ['the prefix and its slash', 'PUT', `${VHOST}/tenants/t1/l1/`, {}, 'uri'],
    ['..', 'GET', `${VHOST}/tenants/t1/l1/../../t2/l1/a`, {}, 'uri'],
    ['encoded ..', 'GET', `${VHOST}/tenants/t1/l1/%2E%2E/x`, {}, 'uri'],
    ['.', 'GET', `${VHOST}/tenants/t1/l1/./a`, {}, 'uri'],
    ['encoded slash', 'GET', `${VHOST}/tenants/t1/l1%2F..%2F..%2Ft2`, {}, 'uri'],
    ['lower-case encoded slash', 'GET', `${VHOST}/tenants/t1/l1/a%2fb`, {}, 'uri'],
    ['encoded backslash', 'GET', `${VHOST}/tenants/t1/l1/a%5C..%5Cb`, {}, 'uri'],
    ['double slash', 'GET', `${VHOST}/tenants/t1/l1//a`, {}, 'uri'],
    ['malformed escape', 'GET', `${VHOST}/tenants/t1/l1/a%zz`, {}, 'uri'],
    ['invalid UTF-8', 'GET', `${VHOST}/tenants/t1/l1/a%C0%AF`, {}, 'uri'],
    ['encoded NUL', 'GET', `${VHOST}/tenants/t1/l1/a%00`, {}, 'uri'],
    ['a raw space', 'GET', `${VHOST}/tenants/t1/l1/a b`, {}, 'uri'],
    ['a fragment', 'GET', `${VHOST}/tenants/t1/l1/a#b`, {}, 'uri'],
    ['user information', 'GET', 'https://x@lake.s3.eu-west-1.amazonaws.com/tenants/t1/l1/a', {}, 'uri'],
    ['plain http to AWS', 'GET', 'http://lake.s3.eu-west-1.amazonaws.com/tenants/t1/l1/a', {}, 'uri'],
    [
      'another bucket in the host',
      'GET',
      'https://other.s3.eu-west-1.amazonaws.com/tenants/t1/l1/a',
      {},
      'uri',
    ],
    [
      'another bucket in the path',
      'GET',
      'https://s3.eu-west-1.amazonaws.com/other/tenants/t1/l1/a',
      {},
      'uri',
    ],
    [
      'a look-alike host',
      'GET',
      'https://lake.s3.eu-west-1.amazonaws.com.evil.example/tenants/t1/l1/a',
      {},
      'uri',
    ],
    ['a metadata address', 'GET', 'http://169.254.169.254/lake/tenants/t1/l1/a', {}, 'uri'],
    ['another region', 'GET', `${VHOST}/tenants/t1/l1/a`, { region: 'us-east-1' }, 'region'],
    ['a listing without prefix', 'GET', `${VHOST}/?list-type=2`, {}, 'uri'],
    ['a listing of the bare prefix', 'GET', `${VHOST}/?list-type=2&prefix=tenants%2Ft1%2Fl1`, {}, 'uri'],
    ['a listing of a sibling', 'GET', `${VHOST}/?list-type=2&prefix=tenants%2Ft1%2Fl1-x%2F`, {}, 'uri'],
    [
      'a repeated prefix',
      'GET',
      `${VHOST}/?list-type=2&prefix=tenants%2Ft1%2Fl1%2F&prefix=tenants%2F`,
      {},
      'uri',
    ],
    ['bucket ACL', 'GET', `${VHOST}/?acl`, {}, 'uri'],
    ['bucket policy', 'PUT', `${VHOST}/?policy`, {}, 'uri'],
    ['bucket lifecycle', 'PUT', `${VHOST}/?lifecycle`, {}, 'uri'],
    ['bucket deletion', 'DELETE', `${VHOST}/`, {}, 'uri'],
    ['HeadBucket', 'HEAD', `${VHOST}/`, {}, 'uri'],
    ['object ACL', 'PUT', `${VHOST}/tenants/t1/l1/a?acl`, {}, 'uri'],
    ['object tagging', 'PUT', `${VHOST}/tenants/t1/l1/a?tagging`, {}, 'uri'],
    ['object restore', 'POST', `${VHOST}/tenants/t1/l1/a?restore`, {}, 'uri'],
    ['select', 'POST', `${VHOST}/tenants/t1/l1/a?select&select-type=2`, {}, 'uri'],
    ['PATCH', 'PATCH', `${VHOST}/tenants/t1/l1/a`, {}, 'method'],
    ['a body on PutObject', 'PUT', `${VHOST}/tenants/t1/l1/a`, { body: 'x' }, 'body'],
    [
      'a canned ACL',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'X-Amz-Acl': ['public-read'] } },
      'headers.X-Amz-Acl',
    ],
    [
      'a grant',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-grant-read': ['uri=x'] } },
      'headers.x-amz-grant-read',
    ],
    [
      'tags',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-tagging': ['a=b'] } },
      'headers.x-amz-tagging',
    ],
    [
      'a header twice',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'content-type': ['a'], 'Content-Type': ['b'] } },
      'headers.Content-Type',
    ],
    [
      'a header with a newline',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'content-type': ['a\r\nx-amz-acl: public-read'] } },
      'headers.content-type',
    ],
    [
      'another Host header',
      'GET',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { host: ['other.s3.eu-west-1.amazonaws.com'] } },
      'headers.host',
    ],
    [
      'chunk-signed streaming',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-content-sha256': ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD'] } },
      'headers.x-amz-content-sha256',
    ],
    [
      'a copy from outside',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-copy-source': ['lake/tenants/t2/l1/a'] } },
      'headers.x-amz-copy-source',
    ],
    [
      'a copy from another bucket',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-copy-source': ['other/tenants/t1/l1/a'] } },
      'headers.x-amz-copy-source',
    ],
    [
      'a copy with ..',
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { 'x-amz-copy-source': ['lake/tenants/t1/l1/%2E%2E/%2E%2E/t2/a'] } },
      'headers.x-amz-copy-source',
    ],
    // Found in review: S3 decodes a raw '+' in a copy source (and in places in a path) as a space.
    ['a raw + in the path', 'GET', `${VHOST}/tenants/t1/l1/a+b`, {}, 'uri'],
    [
      'a raw + in the copy source',
      'PUT',
      `${VHOST}/tenants/t1/l1/x`,
      { headers: { 'x-amz-copy-source': ['lake/tenants/t1/l1/a+b'] } },
      'headers.x-amz-copy-source',
    ],
    [
      'anything after a second ? in the copy source',
      'PUT',
      `${VHOST}/tenants/t1/l1/x`,
      { headers: { 'x-amz-copy-source': ['lake/tenants/t1/l1/a?versionId=1?foo=bar'] } },
      'headers.x-amz-copy-source',
    ],
    ['a version delete', 'DELETE', `${VHOST}/tenants/t1/l1/a?versionId=v1`, {}, 'uri'],
    ['a __proto__ parameter', 'GET', `${VHOST}/tenants/t1/l1/a?__proto__=1`, {}, 'uri'],
    ...(
      [
        ['x-amz-server-side-encryption-customer-algorithm', 'AES256'],
        ['x-amz-server-side-encryption-customer-key', 'a2V5'],
        ['x-amz-copy-source-server-side-encryption-customer-key', 'a2V5'],
        ['x-amz-storage-class', 'DEEP_ARCHIVE'],
        ['x-amz-storage-class', 'GLACIER'],
        ['x-amz-server-side-encryption-aws-kms-key-id', 'arn:aws:kms:eu-west-1:999999999999:key/x'],
        ['x-amz-request-payer', 'requester'],
        ['x-amz-write-offset-bytes', '0'],
        ['x-amz-rename-source', 'lake/tenants/t1/l1/b'],
        ['x-amz-acl', 'public-read'],
        ['X-Amz-Grant-Read', 'id=x'],
        ['x-amz-tagging', 'a=b'],
        ['x-amz-object-lock-mode', 'COMPLIANCE'],
        ['x-amz-website-redirect-location', '/x'],
        ['x-amz-bypass-governance-retention', 'true'],
        ['x-something-new', '1'],
      ] as const
    ).map(([name, value]): [string, string, string, Partial<SignRequestInput>, string] => [
      `the header ${name}: ${value}`,
      'PUT',
      `${VHOST}/tenants/t1/l1/a`,
      { headers: { [name]: [value] } },
      `headers.${name}`,
    ]),
  ])('refuses %s', (_what, method, uri, extra, field) => {
    // Act / Assess
    expect(refusedField(AWS, request(method, uri, extra as Partial<SignRequestInput>))).toBe(field);
  });

  it("signs the headers object writes need, the location's own key among them", () => {
    // Prepare
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const withKey: SigningTarget = { ...AWS, sse: { type: 'aws:kms', keyArn } };
    const headers = {
      'Content-Type': ['application/octet-stream'],
      'content-length': ['3'],
      'x-amz-meta-owner': ['a'],
      'x-amz-checksum-crc32': ['AAAAAA=='],
      'x-amz-sdk-checksum-algorithm': ['CRC32'],
      'x-amz-storage-class': ['INTELLIGENT_TIERING'],
      'x-amz-server-side-encryption': ['aws:kms'],
      'x-amz-server-side-encryption-aws-kms-key-id': [keyArn],
      'amz-sdk-invocation-id': ['i'],
      'user-agent': ['aws-sdk-js'],
    };

    // Act
    const checked = checkSignRequest(withKey, request('PUT', `${VHOST}/tenants/t1/l1/a`, { headers }));

    // Assess: all signed; the same key on a location without one is refused
    expect(Object.keys(checked.headers).sort()).toEqual(
      Object.keys(headers)
        .map((h) => h.toLowerCase())
        .sort(),
    );
    expect(refusedField(AWS, request('PUT', `${VHOST}/tenants/t1/l1/a`, { headers }))).toBe(
      'headers.x-amz-server-side-encryption-aws-kms-key-id',
    );
  });

  it('at a local endpoint: path style at that origin only', () => {
    // Act / Assess
    expect(
      checkSignRequest(LOCAL, request('GET', 'http://127.0.0.1:4566/lake/tenants/t1/l1/a')).operation,
    ).toBe('GetObject');
    expect(refusedField(LOCAL, request('GET', `${VHOST}/tenants/t1/l1/a`))).toBe('uri');
    expect(refusedField(LOCAL, request('GET', 'http://127.0.0.1:4567/lake/tenants/t1/l1/a'))).toBe('uri');
    expect(refusedField(LOCAL, request('GET', 'http://lake.127.0.0.1:4566/tenants/t1/l1/a'))).toBe('uri');
  });

  it('a whole-bucket location takes any key, still no traversal', () => {
    // Prepare
    const whole = { ...AWS, prefix: '' };

    // Act / Assess
    expect(checkSignRequest(whole, request('GET', `${VHOST}/anything/a`)).keys).toEqual(['anything/a']);
    expect(checkSignRequest(whole, request('GET', `${VHOST}/?list-type=2`)).operation).toBe('ListObjectsV2');
    expect(refusedField(whole, request('GET', `${VHOST}/a/../b`))).toBe('uri');
  });

  it('signs a DeleteObjects for the hash of the body it checked, whatever the client claims', () => {
    // Prepare
    const body = '<Delete><Object><Key>tenants/t1/l1/a</Key></Object></Delete>';

    // Act
    const checked = checkSignRequest(
      AWS,
      request('POST', `${VHOST}/?delete`, {
        body,
        headers: { 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'] },
      }),
    );

    // Assess
    expect(checked).toMatchObject({
      operation: 'DeleteObjects',
      payloadHash: { sha256Of: body },
      keys: ['tenants/t1/l1/a'],
    });
  });
});

describe('deleteObjectsKeys', () => {
  it('reads what the AWS SDK writes: declaration, namespace, entities, Quiet', () => {
    // Act
    const keys = deleteObjectsKeys(
      `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
        <Object><Key>p/a&amp;b&#x0D;</Key><ETag>"e1"</ETag></Object>
        <Object><Key>p/&lt;c&gt;&#233;</Key></Object><Quiet>true</Quiet></Delete>`,
    );

    // Assess
    expect(keys).toEqual(['p/a&b\r', 'p/<c>é']);
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE d [<!ENTITY x "p/a">]><Delete><Object><Key>&x;</Key></Object></Delete>'],
    ['an entity of its own', '<Delete><Object><Key>&x;</Key></Object></Delete>'],
    ['a comment', '<Delete><Object><Key>p/a</Key><!-- <Key>q/b</Key> --></Object></Delete>'],
    ['CDATA', '<Delete><Object><Key><![CDATA[q/b]]></Key></Object></Delete>'],
    ['a processing instruction', '<Delete><?pi x?><Object><Key>p/a</Key></Object></Delete>'],
    ['two keys in one object', '<Delete><Object><Key>p/a</Key><Key>q/b</Key></Object></Delete>'],
    ['a version id', '<Delete><Object><Key>p/a</Key><VersionId>v1</VersionId></Object></Delete>'],
    ['a no-break space before the document', '\u00a0<Delete><Object><Key>p/a</Key></Object></Delete>'],
    ['an attribute', '<Delete><Object><Key a="1">p/a</Key></Object></Delete>'],
    ['another namespace', '<Delete xmlns="urn:x"><Object><Key>p/a</Key></Object></Delete>'],
    [
      'a prefixed element',
      '<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Object><s3:Key>p/a</s3:Key></s3:Object></s3:Delete>',
    ],
    ['an unknown element', '<Delete><Object><Key>p/a</Key></Object><Extra/></Delete>'],
    ['an object without key', '<Delete><Object><VersionId>1</VersionId></Object></Delete>'],
    ['no object', '<Delete><Quiet>true</Quiet></Delete>'],
    ['trailing content', '<Delete><Object><Key>p/a</Key></Object></Delete><Delete/>'],
    ['a NUL reference', '<Delete><Object><Key>p/a&#0;</Key></Object></Delete>'],
    ['a surrogate reference', '<Delete><Object><Key>p/a&#xD800;</Key></Object></Delete>'],
    ['an unterminated reference', '<Delete><Object><Key>p/a&amp</Key></Object></Delete>'],
    ['not XML', '{"Delete": []}'],
  ])('refuses %s', (_what, xml) => {
    // Act / Assess
    expect(() => deleteObjectsKeys(xml)).toThrow(SignRequestError);
  });

  it('refuses more than 1,000 keys', () => {
    // Prepare
    const xml = `<Delete>${'<Object><Key>p/a</Key></Object>'.repeat(1001)}</Delete>`;

    // Act / Assess
    expect(() => deleteObjectsKeys(xml)).toThrow(/more than 1000 keys/);
  });
});

describe('every signable operation is one its session may do', () => {
  /** The IAM action S3 authorises each operation with (CopyObject: PutObject here, GetObject on the source). */
  const IAM_ACTION: Record<SignableOperation, string> = {
    GetObject: 's3:GetObject',
    HeadObject: 's3:GetObject',
    ListParts: 's3:ListMultipartUploadParts',
    ListObjectsV2: 's3:ListBucket',
    ListObjects: 's3:ListBucket',
    PutObject: 's3:PutObject',
    CopyObject: 's3:PutObject',
    UploadPart: 's3:PutObject',
    UploadPartCopy: 's3:PutObject',
    CreateMultipartUpload: 's3:PutObject',
    CompleteMultipartUpload: 's3:PutObject',
    AbortMultipartUpload: 's3:AbortMultipartUpload',
    DeleteObject: 's3:DeleteObject',
    DeleteObjects: 's3:DeleteObject',
  };

  it.each(Object.entries(SIGNABLE_OPERATIONS))('%s (%s access)', (operation, access) => {
    // Prepare
    const policy = sessionPolicyFor({ bucket: 'lake', prefix: 'tenants/t1/l1', access });

    // Act
    const actions = policy.Statement.flatMap((statement) => [statement.Action].flat());

    // Assess: a signature the checker gives is one the session's own policy allows (else S3 refuses it,
    // and the checker promised more than the session can do)
    expect(actions).toContain(IAM_ACTION[operation as SignableOperation]);
  });
});
