import { readFile } from 'node:fs/promises';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientConfig } from '../../shared/aws/runtime.js';
import { type PlatformOidcProvider, parsePlatformProviders } from '../../shared/domain/oidc.js';

/** A platform provider as local mode's providers file states it: with its client secret, in the clear. */
export type LocalOidcProvider = Omit<PlatformOidcProvider, 'clientSecretArn'> & { clientSecret: string };

/**
 * Local mode's platform OpenID providers, from the JSON file `STRONGROOM_OIDC_PROVIDERS` names (an array
 * of `{id, name, issuer, clientId, clientSecret, algorithm?}`; docs/identity.md). Each client secret goes
 * into the emulator's Secrets Manager, and the functions get the secrets' ARNs (OIDC_PROVIDERS), exactly
 * as a deployment configures them. Register `<console URL>` as the redirect URI at the provider.
 */
export async function provisionLocalOidcProviders(options: {
  file: string;
  endpoint: string;
  region: string;
  stage: string;
}): Promise<{ OIDC_PROVIDERS: string } | Record<string, never>> {
  const listed = JSON.parse(await readFile(options.file, 'utf8')) as LocalOidcProvider[];
  if (!Array.isArray(listed)) throw new Error(`${options.file}: not a JSON array`);
  if (listed.length === 0) return {};
  const secrets = new SecretsManagerClient({
    ...clientConfig(undefined, { AWS_ENDPOINT_URL: options.endpoint }),
    region: options.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const providers: PlatformOidcProvider[] = [];
  for (const { clientSecret, ...provider } of listed) {
    if (typeof clientSecret !== 'string' || !clientSecret)
      throw new Error(`${options.file}: provider ${provider.id}: clientSecret is required`);
    const { ARN } = await secrets.send(
      new CreateSecretCommand({
        Name: `strongroom/${options.stage}/oidc/${provider.id}-${Date.now()}`,
        SecretString: clientSecret,
      }),
    );
    providers.push({ ...provider, clientSecretArn: ARN! });
  }
  // Checked as strictly as a deployment's configuration.
  return { OIDC_PROVIDERS: JSON.stringify(parsePlatformProviders(JSON.stringify(providers))) };
}
