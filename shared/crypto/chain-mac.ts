import { GenerateMacCommand, KMSClient, KMSInvalidMacException, VerifyMacCommand } from '@aws-sdk/client-kms';
import type { FunctionRuntime } from '../aws/runtime.js';
import { AUDIT_MAC_KEY } from '../domain/audit-mac-key.js';

/** Checks MACs of audit chain statements (shared/domain/audit-chain.ts `macMessage`). */
export interface ChainMacVerifier {
  /** Whether `mac` (base64) is the key's MAC of `message`; throws only when KMS cannot answer. */
  verify(message: string, mac: string): Promise<boolean>;
}

/** Also produces them: only the sequencer and the daily job hold a key policy and IAM grant for that. */
export interface ChainMac extends ChainMacVerifier {
  /** The key's MAC (base64) of `message`. */
  generate(message: string): Promise<string>;
}

/**
 * HMAC-SHA-256 with the audit MAC key in KMS: the key material never leaves KMS, and GenerateMac is denied to
 * every principal but the sealing roles (shared/domain/audit-mac-key.ts). A KMS failure (throttling, a
 * disabled key) propagates: a statement is never treated as authentic, nor as forged, without an answer.
 */
export class KmsChainMac implements ChainMac {
  readonly #kms: KMSClient;
  readonly #keyId: string;

  constructor(props: { kms: KMSClient; keyId: string }) {
    this.#kms = props.kms;
    this.#keyId = props.keyId;
  }

  async generate(message: string): Promise<string> {
    const out = await this.#kms.send(
      new GenerateMacCommand({
        KeyId: this.#keyId,
        MacAlgorithm: AUDIT_MAC_KEY.macAlgorithm,
        Message: Buffer.from(message, 'utf8'),
      }),
    );
    if (!out.Mac) throw new Error('KMS returned no MAC');
    return Buffer.from(out.Mac).toString('base64');
  }

  async verify(message: string, mac: string): Promise<boolean> {
    const bytes = Buffer.from(mac, 'base64');
    // An HMAC-SHA-256 tag is 32 bytes; anything else (or not base64 at all) cannot be one.
    if (bytes.length !== 32 || bytes.toString('base64') !== mac) return false;
    try {
      const out = await this.#kms.send(
        new VerifyMacCommand({
          KeyId: this.#keyId,
          MacAlgorithm: AUDIT_MAC_KEY.macAlgorithm,
          Message: Buffer.from(message, 'utf8'),
          Mac: bytes,
        }),
      );
      return out.MacValid === true;
    } catch (error) {
      if (error instanceof KMSInvalidMacException || (error as Error)?.name === 'KMSInvalidMacException')
        return false;
      throw error;
    }
  }
}

/** The audit MAC key of a function, from its runtime (AUDIT_MAC_KEY_ARN). */
export function chainMacFor(runtime: FunctionRuntime): KmsChainMac {
  return new KmsChainMac({
    kms: runtime.client(KMSClient),
    keyId: runtime.require('auditMacKeyArn'),
  });
}
