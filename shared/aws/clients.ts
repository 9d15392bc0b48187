import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { optionalEnv } from './config.js';

/** Settings shared by every AWS client: the emulator endpoint in local mode, none in AWS. */
export function clientConfig(credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider) {
  const endpoint = optionalEnv('endpoint');
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    maxAttempts: 3,
  };
}

/** A DynamoDB document client that drops undefined attributes instead of failing on them. */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** The platform DynamoDB client (function role credentials): identity table, auth lookups, sequencer. */
export function platformDynamo(): DynamoDBDocumentClient {
  return documentClient(new DynamoDBClient(clientConfig()));
}
