/**
 * A storage location's scope self-test (POST …/storage-locations/{id}/validate): its named checks, in the
 * order they run, and how their outcomes add up. The S3 requests are StorageSelfTest.validateLocation's.
 */
export const STORAGE_VALIDATION_CHECKS = [
  'credentials-issued',
  'read-inside-prefix',
  'write-inside-prefix',
  'kms-key',
  'read-session-cannot-write',
  'write-outside-prefix-refused',
  'write-sibling-prefix-refused',
  'list-sibling-prefix-refused',
] as const;
export type StorageValidationCheckName = (typeof STORAGE_VALIDATION_CHECKS)[number];

/**
 * `not-judged`: the check ran where it proves nothing (the local emulator enforces no IAM, and S3 there calls
 * no KMS), so it is reported instead of passed; `not-run`: an earlier check it needs failed.
 */
export const VALIDATION_STATUSES = ['pass', 'fail', 'not-judged', 'not-applicable', 'not-run'] as const;
export type ValidationStatus = (typeof VALIDATION_STATUSES)[number];

export interface StorageValidationCheck {
  name: StorageValidationCheckName;
  status: ValidationStatus;
  detail: string;
}

/** `failed` when any check failed; `incomplete` when none did but some were not judged or not run. */
export function validationResult(
  checks: readonly StorageValidationCheck[],
): 'passed' | 'failed' | 'incomplete' {
  if (checks.some((c) => c.status === 'fail')) return 'failed';
  if (checks.some((c) => c.status === 'not-judged' || c.status === 'not-run')) return 'incomplete';
  return 'passed';
}
