/** The Strongroom SDK: the API client, the AWS SDK v3 credential provider, and the wire types. */
export {
  StrongroomApiError,
  StrongroomClient,
  type StrongroomClientOptions,
} from './client.js';
export {
  type FromStrongroomOptions,
  fromStrongroom,
  type StorageEndpointHints,
  type StrongroomCredentialIdentity,
  type StrongroomCredentialProvider,
  s3ClientConfig,
} from './credentials.js';
export type * from './types.js';
