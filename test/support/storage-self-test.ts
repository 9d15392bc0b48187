import type { StorageValidationCheckName } from '../../shared/domain/storage-validation.js';

/**
 * The statuses of a storage location's self-test where IAM is not enforced (the local emulator): the
 * credentials work inside the prefix, and every check of what a session must be refused cannot be judged.
 */
export const SELF_TEST_WITHOUT_IAM: Record<StorageValidationCheckName, string> = {
  'credentials-issued': 'pass',
  'read-inside-prefix': 'pass',
  'write-inside-prefix': 'pass',
  'kms-key': 'not-judged',
  'read-session-cannot-write': 'not-judged',
  'write-outside-prefix-refused': 'not-judged',
  'write-sibling-prefix-refused': 'not-judged',
  'list-sibling-prefix-refused': 'not-judged',
};
