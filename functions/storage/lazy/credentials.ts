import { StorageCredentials } from '../../../shared/services/storage-credentials.js';
import { storageDepsOf } from './deps.js';
import type { StorageInit } from './init.js';

export function credentialsFor(init: StorageInit): StorageCredentials {
  return new StorageCredentials(storageDepsOf(init));
}
