import { StorageCredentialRevocation } from '../../../shared/services/storage-credential-revocation.js';
import { storageDepsOf } from './deps.js';
import type { StorageInit } from './init.js';

export function revocationFor(init: StorageInit): StorageCredentialRevocation {
  return new StorageCredentialRevocation(storageDepsOf(init));
}
