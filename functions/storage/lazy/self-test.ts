import { StorageSelfTest } from '../../../shared/services/storage-self-test.js';
import { storageDepsOf } from './deps.js';
import type { StorageInit } from './init.js';

export function selfTestFor(init: StorageInit): StorageSelfTest {
  return new StorageSelfTest(storageDepsOf(init));
}
