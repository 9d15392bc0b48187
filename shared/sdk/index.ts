/** The Strongroom SDK: the API client, the AWS SDK v3 credential provider, and the wire types. */
export {
  type RemoteSignRequest,
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
  type UploadEncryption,
  uploadEncryption,
} from './credentials.js';
export {
  REMOTE_SIGNING_ACCESS_KEY_ID,
  remoteSigningCredentials,
  type StrongroomSigningOptions,
  type StrongroomSigningPlugin,
  strongroomSigning,
} from './signing.js';
export type * from './types.js';
