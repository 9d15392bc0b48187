import { StorageRemoteSigning } from '../../../shared/services/storage-remote-signing.js';
import { storageDepsOf } from './deps.js';
import type { StorageInit } from './init.js';

export function signingFor(init: StorageInit): StorageRemoteSigning {
  return new StorageRemoteSigning(storageDepsOf(init));
}
