import { StorageLocations } from '../../../shared/services/storage-locations.js';
import { storageDepsOf } from './deps.js';
import type { StorageInit } from './init.js';

export function locationsFor(init: StorageInit): StorageLocations {
  return new StorageLocations(storageDepsOf(init));
}
