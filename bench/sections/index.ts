import { auditSection } from './audit.js';
import { identitySection } from './identity.js';
import { storageSection } from './storage.js';
import type { BenchSection } from './types.js';

/**
 * Extra bench sections, run in this order after the cold-start table. A section is a file in this folder
 * exporting a `BenchSection`; register it here.
 */
export const BENCH_SECTIONS: readonly BenchSection[] = [identitySection, auditSection, storageSection];
