import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { StrongroomFunction } from '../../constructs/strongroom-function.js';
import type { AreaResources } from './area-resources.js';

/**
 * The secret a provider's `clientSecretArn` names, as an IAM resource: an ARN as given; a name as the ARNs
 * Secrets Manager gives secrets of that name in this stack's account and region (the name, a dash and six
 * random characters, so a secret whose name merely starts the same does not match).
 */
export function oidcClientSecretResource(stack: Stack, secretArnOrName: string): string {
  if (secretArnOrName.startsWith('arn:')) return secretArnOrName;
  return stack.formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secretArnOrName}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * `secretsmanager:GetSecretValue` on the platform OpenID providers' client secrets, and nothing else of
 * Secrets Manager; no statement at all when no provider is configured. Secrets encrypted with the default
 * `aws/secretsmanager` key need no KMS grant; a secret under a customer key needs that key's policy to
 * allow the auth role (docs/identity.md).
 */
export function grantOidcClientSecrets(fn: StrongroomFunction, resources: AreaResources): void {
  if (resources.oidcProviders.length === 0) return;
  const stack = Stack.of(fn);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'OidcClientSecrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [
        ...new Set(resources.oidcProviders.map((p) => oidcClientSecretResource(stack, p.clientSecretArn))),
      ],
    }),
  );
}
