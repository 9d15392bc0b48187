import { PARTITION_DNS_SUFFIX, partitionOfRegion } from './partitions.js';
import type { StorageAccess } from './storage-limits.js';

/**
 * Remote signing (Iceberg's S3 signer contract): what a request to sign may be. Pure checks, before any
 * credential is touched: the request must reach the location's bucket at the store's host, every object key
 * it names must lie under the location's prefix, a listing must stay at or below `<prefix>/`, and the
 * operation must be one of the object operations a read or write session allows. Everything else is refused,
 * naming the field. The session policy of the credentials that sign is the second line of defence.
 */

/**
 * The aggregated audit of remote signing: signatures are counted per caller, location and access in 5-minute
 * windows (a rate-window item), and reported at the 1st, 10th, 100th… of each window.
 */
export const SIGNING_AUDIT = { name: 'storage-signed', windowSeconds: 300 } as const;

/** Where a location's objects are reached: its bucket and prefix, and the store's endpoint. */
export interface SigningTarget {
  bucket: string;
  /** No leading or trailing slash; empty for a whole bucket. */
  prefix: string;
  region: string;
  /** The store's origin (`http://127.0.0.1:4566`) when it is not AWS's regional endpoint. */
  endpoint?: string;
  /** Whether buckets go in the path at `endpoint` (AWS accepts both styles). */
  pathStyle: boolean;
  /** The location's KMS key, when it names one: the only key a signed write may name. */
  sse?: { type: 'aws:kms'; keyArn: string } | undefined;
}

/** Iceberg's S3SignRequest. */
export interface SignRequestInput {
  region: string;
  uri: string;
  method: string;
  headers: Record<string, readonly string[]>;
  body?: string | undefined;
}

/** The S3 operations remote signing serves, with the access each needs. */
export const SIGNABLE_OPERATIONS = {
  GetObject: 'read',
  HeadObject: 'read',
  // s3:ListMultipartUploadParts: only write sessions hold it (a read session would be refused by S3).
  ListParts: 'write',
  ListObjectsV2: 'read',
  ListObjects: 'read',
  PutObject: 'write',
  CopyObject: 'write',
  UploadPart: 'write',
  UploadPartCopy: 'write',
  CreateMultipartUpload: 'write',
  CompleteMultipartUpload: 'write',
  AbortMultipartUpload: 'write',
  DeleteObject: 'write',
  DeleteObjects: 'write',
} as const satisfies Record<string, StorageAccess>;
export type SignableOperation = keyof typeof SIGNABLE_OPERATIONS;

/** A request that passed the checks, ready for SigV4 (path still percent-encoded as the client sends it). */
export interface CheckedSignRequest {
  operation: SignableOperation;
  access: StorageAccess;
  method: string;
  protocol: 'http:' | 'https:';
  hostname: string;
  port?: number;
  /** The raw, percent-encoded path, exactly as the client will send it. */
  path: string;
  query: Record<string, string>;
  /** Lower-case names, one value each; no authorization, date, token or payload-hash header. */
  headers: Record<string, string>;
  /** The `x-amz-content-sha256` to sign: the body's SHA-256 for DeleteObjects (computed by the caller). */
  payloadHash: string | { sha256Of: string };
  /** The object keys the request touches (decoded), for the audit and tests. */
  keys: string[];
}

/** A request refused before signing: `field` is the request field at fault (`uri`, `headers.x-amz-acl`, …). */
export class SignRequestError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignRequestError';
  }
}

/** DeleteObjects takes at most 1,000 keys (S3's own limit). */
export const MAX_DELETE_KEYS = 1000;

/** Query parameters each operation may carry (anything else, `?acl`, `?policy`, `?tagging`…, is refused). */
const RESPONSE_OVERRIDES = [
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
];
const ALLOWED_QUERY: Record<SignableOperation, readonly string[]> = {
  GetObject: ['versionId', 'partNumber', ...RESPONSE_OVERRIDES],
  HeadObject: ['versionId', 'partNumber'],
  ListParts: ['uploadId', 'max-parts', 'part-number-marker'],
  ListObjectsV2: [
    'list-type',
    'prefix',
    'delimiter',
    'max-keys',
    'continuation-token',
    'start-after',
    'encoding-type',
    'fetch-owner',
  ],
  ListObjects: ['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type'],
  PutObject: [],
  CopyObject: [],
  UploadPart: ['partNumber', 'uploadId'],
  UploadPartCopy: ['partNumber', 'uploadId'],
  CreateMultipartUpload: ['uploads'],
  CompleteMultipartUpload: ['uploadId'],
  AbortMultipartUpload: ['uploadId'],
  // No versionId: deleting a version is s3:DeleteObjectVersion, which no session holds (versions stay
  // recoverable); S3 would refuse the signature's session anyway.
  DeleteObject: [],
  DeleteObjects: ['delete'],
};

/**
 * The headers a signed request may carry: what object reads and writes need (content headers, conditions,
 * user metadata, checksums, copy and multipart details, the SDK's own). Anything else is refused, among it
 * what would change more than object data or make it unreadable to others: ACLs and grants, tags, object
 * lock, website redirects, customer-provided keys (SSE-C), requester pays, appends and renames. HTTP's own
 * connection headers pass (SigV4 never signs them).
 */
const SIGNABLE_HEADER =
  /^(transfer-encoding|connection|keep-alive|te|trailer|pragma|x-amzn-trace-id|content-(type|length|md5|encoding|disposition|language)|cache-control|expires|expect|range|accept|accept-encoding|user-agent|if-(match|none-match|modified-since|unmodified-since)|amz-sdk-(invocation-id|request)|x-amz-(user-agent|meta-[!#$%&'*+.^_`|~0-9a-z-]+|checksum-[a-z0-9]+|checksum-mode|sdk-checksum-algorithm|trailer|decoded-content-length|copy-source|copy-source-range|copy-source-if-(match|none-match|modified-since|unmodified-since)|metadata-directive|server-side-encryption|server-side-encryption-aws-kms-key-id|server-side-encryption-bucket-key-enabled|server-side-encryption-context|storage-class|expected-bucket-owner|source-expected-bucket-owner|mp-parts-count|part-number))$/;
/** Storage classes a write may ask for: those whose objects any reader can read at once, at no minimum charge. */
const STORAGE_CLASSES: ReadonlySet<string> = new Set(['STANDARD', 'INTELLIGENT_TIERING']);
/** Headers the signature sets (any the client sent are replaced). */
const SIGNER_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Payload hashes a remote signature can stand for (chunk-signed streaming needs the key itself). */
const PAYLOAD_HASH = /^([0-9a-f]{64}|UNSIGNED-PAYLOAD|STREAMING-UNSIGNED-PAYLOAD-TRAILER)$/;
/**
 * Characters a percent-encoded path may hold as they are (RFC 3986 pchar and `/`), without `+`: S3 reads a
 * raw `+` as a space in places, where the checker would read a plus (SDKs send `%2B`).
 */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*,;=:@/%]*$/;
const QUERY_CHARS = /^[A-Za-z0-9\-._~!$'()*,;=:@/?%&]*$/;

const refuse = (field: string, message: string): never => {
  throw new SignRequestError(field, message);
};

/** Decodes one percent-encoded piece, refusing malformed escapes and invalid UTF-8. */
function decodePiece(raw: string, field: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) refuse(field, 'Malformed percent-encoding.');
  try {
    return decodeURIComponent(raw);
  } catch {
    return refuse(field, 'Percent-encoding that is not UTF-8.');
  }
}

/** The store's host names for the location, and whether the bucket is in the host or the path. */
function expectedHosts(target: SigningTarget): { origin: string; pathStyle: boolean }[] {
  if (target.endpoint) {
    const url = new URL(target.endpoint);
    const virtual = `${url.protocol}//${target.bucket}.${url.host}`;
    return [
      target.pathStyle ? { origin: url.origin, pathStyle: true } : { origin: virtual, pathStyle: false },
    ];
  }
  const suffix = PARTITION_DNS_SUFFIX[partitionOfRegion(target.region)];
  const hosts = [`s3.${target.region}.${suffix}`];
  if (target.region === 'us-east-1') hosts.push(`s3.${suffix}`);
  return hosts.flatMap((host) => [
    { origin: `https://${target.bucket}.${host}`, pathStyle: false },
    { origin: `https://${host}`, pathStyle: true },
  ]);
}

/** Splits the URI as sent (not as a URL parser would normalise it) and checks its host. */
function splitUri(target: SigningTarget, uri: string) {
  const parts = /^(https?):\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(uri);
  if (!parts) return refuse('uri', 'Not an absolute http(s) URI without a fragment.');
  const [, scheme, authority, rawPath = '/', rawQuery = ''] = parts as unknown as [
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  if (authority.includes('@')) refuse('uri', 'A URI with user information is not signed.');
  const origin = `${scheme.toLowerCase()}://${authority.toLowerCase()}`;
  const match = expectedHosts(target).find((h) => h.origin === origin);
  if (!match)
    refuse(
      'uri',
      `The URI's host is not this location's store (expected ${expectedHosts(target)
        .map((h) => h.origin + (h.pathStyle ? `/${target.bucket}` : ''))
        .join(' or ')}).`,
    );
  if (!PATH_CHARS.test(rawPath)) refuse('uri', 'The path holds characters that must be percent-encoded.');
  if (!QUERY_CHARS.test(rawQuery)) refuse('uri', 'The query holds characters that must be percent-encoded.');
  const url = new URL(uri);
  return { match: match!, rawPath, rawQuery, url };
}

/** The object key of a raw path (after the bucket segment in path style), refusing every normalisation trick. */
function keyOfPath(target: SigningTarget, rawPath: string, pathStyle: boolean): string | undefined {
  let rest = rawPath.slice(1);
  if (pathStyle) {
    const slash = rest.indexOf('/');
    const bucket = decodePiece(slash === -1 ? rest : rest.slice(0, slash), 'uri');
    if (bucket !== target.bucket) refuse('uri', `The bucket is not this location's (${target.bucket}).`);
    rest = slash === -1 ? '' : rest.slice(slash + 1);
  }
  if (rest === '') return undefined;
  const segments = rest.split('/');
  const decoded = segments.map((segment, i) => {
    const value = decodePiece(segment, 'uri');
    if (value.includes('/')) refuse('uri', 'An encoded slash (%2F) in the path is not signed.');
    if (value.includes('\\')) refuse('uri', 'A backslash in the path is not signed.');
    if (value === '.' || value === '..') refuse('uri', 'A "." or ".." segment in the path is not signed.');
    // A trailing slash names a "folder" object; an empty segment elsewhere is a double slash.
    if (value === '' && i !== segments.length - 1)
      refuse('uri', 'An empty path segment (a double slash) is not signed.');
    return value;
  });
  return decoded.join('/');
}

/** Refuses a key outside `<prefix>/`, or with characters S3 keys should not carry. */
function checkKey(target: SigningTarget, key: string, field: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
  if (/[\u0000-\u001f\u007f]/.test(key)) refuse(field, 'A control character in an object key is not signed.');
  if (key.length > 1024) refuse(field, 'An object key longer than 1,024 characters.');
  for (const segment of key.split('/'))
    if (segment === '.' || segment === '..')
      refuse(field, 'A "." or ".." segment in an object key is not signed.');
  if (target.prefix && !key.startsWith(`${target.prefix}/`))
    refuse(
      field,
      `The object key ${JSON.stringify(key)} is not under the location's prefix ${target.prefix}/.`,
    );
  if (target.prefix && key === `${target.prefix}/`)
    refuse(field, "The location's prefix itself is not an object of the location.");
  return key;
}

/** Parses a raw query string without treating `+` as a space; refuses repeated names. */
function parseQuery(rawQuery: string): Record<string, string> {
  // No prototype: a parameter named __proto__ is a parameter like any other (then refused as unknown).
  const query: Record<string, string> = Object.create(null);
  if (rawQuery === '') return query;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodePiece(eq === -1 ? pair : pair.slice(0, eq), 'uri');
    const value = eq === -1 ? '' : decodePiece(pair.slice(eq + 1), 'uri');
    if (Object.hasOwn(query, name)) refuse('uri', `The query parameter ${name} is repeated.`);
    query[name] = value;
  }
  return query;
}

function operationOf(
  method: string,
  hasKey: boolean,
  query: Record<string, string>,
  copy: boolean,
): SignableOperation {
  const has = (name: string) => Object.hasOwn(query, name);
  if (hasKey) {
    switch (method) {
      case 'GET':
        return has('uploadId') ? 'ListParts' : 'GetObject';
      case 'HEAD':
        return 'HeadObject';
      case 'PUT':
        if (has('partNumber') || has('uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart';
        return copy ? 'CopyObject' : 'PutObject';
      case 'POST':
        if (has('uploads')) return 'CreateMultipartUpload';
        if (has('uploadId')) return 'CompleteMultipartUpload';
        return refuse('uri', 'POST on an object is signed only to start or complete a multipart upload.');
      case 'DELETE':
        return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    }
  } else {
    if (method === 'GET' && query['list-type'] === '2') return 'ListObjectsV2';
    if (
      method === 'GET' &&
      Object.keys(query).every((n) => ALLOWED_QUERY.ListObjects.includes(n) || n === 'x-id')
    )
      return 'ListObjects';
    if (method === 'POST' && has('delete')) return 'DeleteObjects';
    const named = Object.keys(query).find((n) => n !== 'x-id');
    return refuse(
      'uri',
      `Bucket-level ${method}${named ? ` ?${named}` : ''} is not signed: only listings (ListObjectsV2, ListObjects) and DeleteObjects are.`,
    );
  }
  return refuse('method', `${method} is not signed.`);
}

/** The one-value headers to sign, checked; the client's `x-amz-content-sha256`, if any, apart. */
function checkHeaders(input: SignRequestInput, host: string, target: SigningTarget) {
  const headers: Record<string, string> = Object.create(null);
  let payloadHash: string | undefined;
  for (const [rawName, values] of Object.entries(input.headers)) {
    if (!HEADER_NAME.test(rawName)) refuse('headers', `${JSON.stringify(rawName)} is not a header name.`);
    const name = rawName.toLowerCase();
    const field = `headers.${rawName}`;
    if (Object.hasOwn(headers, name) || (name === 'x-amz-content-sha256' && payloadHash !== undefined))
      refuse(field, 'The header is named twice.');
    if (values.length === 0) refuse(field, 'A header needs a value.');
    const value = values.join(',');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: header injection is what this refuses
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value))
      refuse(field, 'A control character in a header value.');
    if (name === 'host') {
      if (value.toLowerCase() !== host) refuse(field, "The Host header is not the URI's host.");
      continue;
    }
    if (name === 'x-amz-content-sha256') {
      if (!PAYLOAD_HASH.test(value))
        refuse(
          field,
          'A payload hash a remote signature can stand for: a SHA-256, UNSIGNED-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER.',
        );
      payloadHash = value;
      continue;
    }
    if (SIGNER_HEADERS.has(name)) continue;
    if (!SIGNABLE_HEADER.test(name))
      refuse(field, `The header ${name} is not signed: only what object reads and writes need is.`);
    const trimmed = value.trim();
    if (name === 'x-amz-storage-class' && !STORAGE_CLASSES.has(trimmed))
      refuse(field, `Only the storage classes ${[...STORAGE_CLASSES].join(' and ')} are signed.`);
    if (name === 'x-amz-server-side-encryption-aws-kms-key-id' && trimmed !== target.sse?.keyArn)
      refuse(
        field,
        target.sse
          ? `Only the location's key (${target.sse.keyArn}) may be named.`
          : 'The location names no KMS key: writes use the bucket default.',
      );
    headers[name] = trimmed;
  }
  return { headers, payloadHash };
}

/** `x-amz-copy-source` (`bucket/key[?versionId=…]`, percent-encoded): the source must be the location's too. */
function checkCopySource(target: SigningTarget, value: string): string {
  const field = 'headers.x-amz-copy-source';
  const mark = value.indexOf('?');
  const rawSource = mark === -1 ? value : value.slice(0, mark);
  const version = mark === -1 ? undefined : value.slice(mark + 1);
  if (version !== undefined && !/^versionId=[^&?]*$/.test(version))
    refuse(field, 'Only a versionId may follow the copy source.');
  // S3 decodes a raw '+' in the copy source as a space; SDKs send %2B.
  if (rawSource.includes('+')) refuse(field, 'A raw "+" in the copy source is not signed (send %2B).');
  const source = decodePiece(rawSource.replace(/^\//, ''), field);
  const slash = source.indexOf('/');
  if (slash === -1 || source.slice(0, slash) !== target.bucket)
    refuse(field, `The copy source is not in this location's bucket (${target.bucket}).`);
  return checkKey(target, source.slice(slash + 1), field);
}

/**
 * Checks a remote-signing request against a location and says what to sign: the operation, the access it
 * needs, and the request's parts as SigV4 takes them. Throws SignRequestError naming the field at fault.
 */
export function checkSignRequest(target: SigningTarget, input: SignRequestInput): CheckedSignRequest {
  if (input.region !== target.region)
    refuse('region', `The location's store is signed for ${target.region}, not ${input.region}.`);
  const method = input.method.toUpperCase();
  if (!['GET', 'HEAD', 'PUT', 'POST', 'DELETE'].includes(method))
    refuse('method', `${input.method} is not signed.`);
  const { match, rawPath, rawQuery, url } = splitUri(target, input.uri);
  const key = keyOfPath(target, rawPath, match.pathStyle);
  const query = parseQuery(rawQuery);
  const { headers, payloadHash } = checkHeaders(input, url.host, target);
  const copySource = headers['x-amz-copy-source'];
  const operation = operationOf(method, key !== undefined, query, copySource !== undefined);
  for (const name of Object.keys(query))
    if (name !== 'x-id' && !ALLOWED_QUERY[operation].includes(name))
      refuse('uri', `The query parameter ${name} is not signed for ${operation}.`);
  if (operation !== 'DeleteObjects' && input.body !== undefined)
    refuse('body', 'A body is taken only for DeleteObjects (POST ?delete).');

  const keys: string[] = [];
  if (key !== undefined) keys.push(checkKey(target, key, 'uri'));
  if (copySource !== undefined) keys.push(checkCopySource(target, copySource));
  if (operation === 'ListObjectsV2' || operation === 'ListObjects') {
    const prefix = query.prefix;
    if (target.prefix && (prefix === undefined || !prefix.startsWith(`${target.prefix}/`)))
      refuse(
        'uri',
        `A listing needs a prefix at or below ${target.prefix}/ (the location's prefix and a slash), so it cannot show sibling prefixes.`,
      );
  }
  if (operation === 'DeleteObjects') {
    if (input.body === undefined) refuse('body', 'DeleteObjects needs its XML body, to check every key.');
    for (const [i, k] of deleteObjectsKeys(input.body!).entries())
      keys.push(checkKey(target, k, `body.Delete.Object[${i}].Key`));
  }
  return {
    operation,
    access: SIGNABLE_OPERATIONS[operation],
    method,
    protocol: url.protocol as 'http:' | 'https:',
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: rawPath,
    query,
    headers,
    // The body that was checked is the body S3 will accept: its hash is signed, whatever the client said.
    payloadHash:
      operation === 'DeleteObjects' ? { sha256Of: input.body! } : (payloadHash ?? 'UNSIGNED-PAYLOAD'),
    keys,
  };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Element text: the five predefined entities and character references, nothing else that needs markup. */
function xmlText(raw: string, field: string): string {
  if (raw.includes('<') || raw.includes(']]>')) refuse(field, 'Markup inside element text.');
  return raw.replace(/&([^;]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) return refuse(field, 'An unterminated entity reference.');
    if (Object.hasOwn(XML_ENTITIES, ref)) return XML_ENTITIES[ref]!;
    const code = /^#x([0-9A-Fa-f]{1,6})$/.exec(ref)
      ? Number.parseInt(ref.slice(2), 16)
      : /^#([0-9]{1,7})$/.exec(ref)
        ? Number.parseInt(ref.slice(1), 10)
        : undefined;
    // XML 1.0 Char: tab, newline, carriage return, and the ranges without surrogates and U+FFFE/U+FFFF.
    const valid =
      code !== undefined &&
      (code === 0x9 ||
        code === 0xa ||
        code === 0xd ||
        (code >= 0x20 && code <= 0xd7ff) ||
        (code >= 0xe000 && code <= 0xfffd) ||
        (code >= 0x10000 && code <= 0x10ffff));
    if (!valid) return refuse(field, `The entity reference &${ref}; is not accepted.`);
    return String.fromCodePoint(code!);
  });
}

/**
 * The keys of a DeleteObjects body, read by a parser for exactly the grammar S3 documents and no more: an
 * optional XML declaration, `<Delete>` (its only attribute the S3 namespace) holding `<Object>` elements
 * (`<Key>`, optionally `<VersionId>`, `<ETag>`, `<LastModifiedTime>`, `<Size>`) and an optional `<Quiet>`,
 * whitespace between elements, text with the predefined entities. No DOCTYPE, comment, CDATA, processing
 * instruction or other element: those are where two XML parsers disagree, and what one cannot read the same
 * way S3 does is refused, never guessed at.
 */
export function deleteObjectsKeys(xml: string): string[] {
  const field = 'body';
  const bad = (why: string): never => refuse(field, `Not a DeleteObjects body this API signs: ${why}`);
  // XML's own whitespace only (space, tab, CR, LF): S3 refuses any other around the document.
  const trimStart = (text: string) => text.replace(/^[ \t\r\n]+/, '');
  let rest = trimStart(xml.replace(/^\uFEFF/, '')).replace(/[ \t\r\n]+$/, '');
  const declaration =
    /^<\?xml\s+version\s*=\s*(["'])1\.0\1(\s+encoding\s*=\s*(["'])UTF-8\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*\?>/i.exec(
      rest,
    );
  if (declaration) rest = trimStart(rest.slice(declaration[0].length));
  const root =
    /^<Delete([ \t\r\n]+xmlns[ \t\r\n]*=[ \t\r\n]*(["'])http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/\2)?[ \t\r\n]*>([\s\S]*)<\/Delete[ \t\r\n]*>$/.exec(
      rest,
    );
  if (!root) return bad('the document must be one <Delete> element (only the S3 namespace as attribute).');
  let inner = root[3]!;
  const keys: string[] = [];
  let quiet = false;
  // No VersionId: deleting a version is s3:DeleteObjectVersion, which no session holds.
  const OBJECT_FIELDS = new Set(['Key', 'ETag', 'LastModifiedTime', 'Size']);
  const element = (s: string) => /^<([A-Za-z]+)>([^<]*)<\/\1[ \t\r\n]*>/.exec(s);
  while ((inner = trimStart(inner)) !== '') {
    if (inner.startsWith('<Object>')) {
      const end = inner.indexOf('</Object>');
      if (end === -1) return bad('an <Object> is not closed.');
      let body = inner.slice('<Object>'.length, end);
      inner = inner.slice(end + '</Object>'.length);
      const seen = new Set<string>();
      let key: string | undefined;
      while ((body = trimStart(body)) !== '') {
        const m = element(body);
        if (!m || !OBJECT_FIELDS.has(m[1]!) || seen.has(m[1]!))
          return bad(
            'an <Object> may hold one <Key> and one each of <ETag>, <LastModifiedTime>, <Size> (no <VersionId>: versions are not deleted).',
          );
        seen.add(m[1]!);
        if (m[1] === 'Key') key = xmlText(m[2]!, field);
        else xmlText(m[2]!, field);
        body = body.slice(m[0].length);
      }
      if (key === undefined) return bad('an <Object> without a <Key>.');
      keys.push(key);
      if (keys.length > MAX_DELETE_KEYS) return bad(`more than ${MAX_DELETE_KEYS} keys.`);
      continue;
    }
    const m = element(inner);
    if (m && m[1] === 'Quiet' && !quiet && /^[ \t\r\n]*(true|false)[ \t\r\n]*$/.test(m[2]!)) {
      quiet = true;
      inner = inner.slice(m[0].length);
      continue;
    }
    return bad('only <Object> elements and one <Quiet> may sit in <Delete>.');
  }
  if (keys.length === 0) return bad('no <Object> to delete.');
  return keys;
}
