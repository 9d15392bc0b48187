import { auditSection } from './audit.js';
import { auditGrowthSection } from './audit-growth.js';
import { cachesSection } from './caches.js';
import { callsSection } from './calls.js';
import { cryptoSection } from './crypto.js';
import { emulatorMemorySection } from './emulator-memory.js';
import { identitySection } from './identity.js';
import { loadSection } from './load.js';
import { policySizesSection } from './policy-sizes.js';
import { querySection } from './query.js';
import { storageSection } from './storage.js';
import type { BenchSection } from './types.js';

/**
 * Extra bench sections, run in this order after the cold-start table (the `slow` ones only with `--all`).
 * A section is a file in this folder exporting a `BenchSection`; register it here.
 */
export const BENCH_SECTIONS: readonly BenchSection[] = [
  identitySection,
  cryptoSection,
  storageSection,
  policySizesSection,
  querySection,
  auditSection,
  auditGrowthSection,
  emulatorMemorySection,
  loadSection,
  callsSection,
  cachesSection,
];
