import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/*
 * A software WebAuthn authenticator for tests: real P-256 keys (node:crypto), real CBOR, real ES256
 * signatures, so the server's library verifies its answers exactly as it verifies a browser's. Each
 * ceremony can be bent to test a refusal: another origin or relying party, no user verification, a chosen
 * counter, another credential or user handle.
 */

// --- a minimal CBOR encoder (RFC 8949): the types WebAuthn's attestation objects use ---

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(length, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

// --- the authenticator ---

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** What may be bent in one ceremony. */
export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  /** Report user verification (default true). */
  userVerified?: boolean;
  /** The signature counter to report (default: one more than the last). */
  counter?: number;
  /** Answer with this credential (default: the first one for the relying party). */
  credentialId?: string;
  /** Report this user handle (base64url) instead of the credential's. */
  userHandle?: string;
  /** Sign with this credential's key instead (an authenticator answering with a key it does not hold). */
  signWith?: string;
}

interface StoredCredential {
  id: string;
  rpId: string;
  userHandle: string;
  privateKey: KeyObject;
  counter: number;
}

/** A software authenticator holding discoverable P-256 credentials. */
export class SoftwareAuthenticator {
  readonly credentials: StoredCredential[] = [];

  constructor(private readonly defaults: { origin: string; rpId: string }) {}

  /** Answers registration options as `navigator.credentials.create(...).toJSON()` would. */
  register(options: Record<string, any>, overrides: CeremonyOverrides = {}) {
    const rpId = overrides.rpId ?? options.rp?.id ?? this.defaults.rpId;
    const origin = overrides.origin ?? this.defaults.origin;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const credentialId = randomBytes(32);
    const counter = overrides.counter ?? 0;
    const cose = cbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([FLAG_UP | FLAG_AT | (overrides.userVerified === false ? 0 : FLAG_UV)]),
      uint32(counter),
      Buffer.alloc(16),
      idLength,
      credentialId,
      cose,
    ]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }),
    );
    const id = b64url(credentialId);
    this.credentials.push({
      id,
      rpId,
      userHandle: options.user?.id,
      privateKey,
      counter,
    });
    return {
      id,
      rawId: id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(cbor({ fmt: 'none', attStmt: {}, authData })),
        transports: ['internal'],
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }

  /** Answers sign-in options as `navigator.credentials.get(...).toJSON()` would. */
  assert(options: Record<string, any>, overrides: CeremonyOverrides = {}) {
    const credential = overrides.credentialId
      ? this.credentials.find((c) => c.id === overrides.credentialId)
      : this.credentials[0];
    if (!credential) throw new Error('no such credential');
    const rpId = overrides.rpId ?? options.rpId ?? this.defaults.rpId;
    const origin = overrides.origin ?? this.defaults.origin;
    const counter = overrides.counter ?? credential.counter + 1;
    credential.counter = Math.max(credential.counter, counter);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([FLAG_UP | (overrides.userVerified === false ? 0 : FLAG_UV)]),
      uint32(counter),
    ]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }),
    );
    const signer = overrides.signWith
      ? this.credentials.find((c) => c.id === overrides.signWith)!.privateKey
      : credential.privateKey;
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), signer);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: overrides.userHandle ?? credential.userHandle,
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    };
  }
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}
