import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';
import { runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { expect } from 'vitest';
import type { KeyPolicyDocument } from '../../shared/domain/key-policy.js';
import { ACCOUNT, KEY_ARN } from './key-policy-ids.js';

/** An identity policy as generous as a misconfigured role could be: the key policy alone must hold. */
const KMS_EVERYTHING = {
  name: 'kms-everything',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
};

/**
 * A KMS request against a tenant key with `policy`, the caller's identity policy allowing all of KMS: the
 * simulator's result (`Allowed`, `ImplicitlyDenied`, …). The policy must validate as a resource policy.
 */
export function simulateKeyPolicy(
  policy: KeyPolicyDocument,
  options: { principal: string; action: string; context?: Record<string, string | string[]> },
): string {
  const validated = createValidatedPolicy(policy, validateResourcePolicy, { name: 'key-policy' });
  expect(validated.errors).toEqual([]);
  const simulation: Simulation = {
    identityPolicies: [KMS_EVERYTHING],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: validated as never,
    request: {
      principal: options.principal,
      action: options.action,
      resource: { resource: KEY_ARN, accountId: ACCOUNT },
      contextVariables: { 'aws:PrincipalArn': options.principal, ...options.context },
    },
  };
  // As in key-policy.test.ts: the unchecked engine evaluates `kms:EncryptionContext:<key>` as written.
  return runUnsafeSimulation(simulation, {});
}
