/**
 * The audit MAC key: a KMS HMAC key that authenticates every head the sequencer writes and every daily
 * checkpoint. CDK (infra/stacks/stateful-stack.ts) and local provisioning (infra/local/provision.ts) both
 * build it from these definitions.
 *
 * Anyone who can write the audit tables can recompute SHA-256 chain hashes; nobody without
 * `kms:GenerateMac` on this key can produce a head the verifier accepts. So:
 * - only roles tagged `strongroom:audit-sealer = <stage>` (the sequencer and the daily verification) may
 *   generate MACs: an explicit Deny in the key policy, which no identity policy can override, on top of
 *   the identity grants that only those two roles hold;
 * - verifying needs `kms:VerifyMac`, which cannot forge anything, and is granted to the readers that verify.
 */
import { type KeyPolicyDocument, KeyPolicyInputError, type KeyPolicyStatement } from './key-policy.js';

/** KeySpec, KeyUsage and the MAC algorithm of the key (HMAC-SHA-256). */
export const AUDIT_MAC_KEY = {
  keySpec: 'HMAC_256',
  keyUsage: 'GENERATE_VERIFY_MAC',
  macAlgorithm: 'HMAC_SHA_256',
} as const;

/** The principal tag that marks the roles allowed to generate audit MACs; its value is the stage. */
export const AUDIT_SEALER_TAG = 'strongroom:audit-sealer';

/** What sealing roles do with the key (generate) and what verifiers do (verify only). */
export const AUDIT_MAC_SEAL_ACTIONS = ['kms:GenerateMac', 'kms:VerifyMac'] as const;
export const AUDIT_MAC_VERIFY_ACTIONS = ['kms:VerifyMac'] as const;

/** The key's alias. */
export function auditMacKeyAlias(stage: string): string {
  return `alias/strongroom/${stage}/audit-mac`;
}

/**
 * The statement that keeps everyone but the tagged sealing roles from generating MACs, whatever their IAM
 * policies say (a role granted `kms:*` by mistake still cannot forge a head).
 */
export function auditMacSealersOnlyStatement(stage: string): KeyPolicyStatement {
  if (!/^[a-z0-9-]+$/i.test(stage)) throw new KeyPolicyInputError('the stage must name resources');
  return {
    Sid: 'OnlyAuditSealersGenerateMacs',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: ['kms:GenerateMac'],
    Resource: '*',
    // A principal without the tag has no value for the key, which StringNotEquals counts as "not equal".
    Condition: { StringNotEquals: { [`aws:PrincipalTag/${AUDIT_SEALER_TAG}`]: stage } },
  };
}

/** The whole key policy for local mode (CDK adds the same Deny to its default account-root policy). */
export function auditMacKeyPolicy(input: {
  accountId: string;
  partition: string;
  stage: string;
}): KeyPolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountIamPolicies',
        Effect: 'Allow',
        Principal: { AWS: `arn:${input.partition}:iam::${input.accountId}:root` },
        Action: ['kms:*'],
        Resource: '*',
      },
      auditMacSealersOnlyStatement(input.stage),
    ],
  };
}
