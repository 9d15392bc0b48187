import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  TENANT_STORAGE_GRANT_VERSION,
  tenantStorageRolePolicy,
} from '../../../shared/domain/tenant-storage-role.js';
import { ACCOUNT, T1 } from '../../support/fixed-ids.js';

/**
 * Every existing tenant storage role is rewritten when its recorded grant version is older than this
 * deployment's (TenantStorageAccess.ensureRole): so a change of the grant document must come with a new version.
 * This pins the document (for fixed inputs) to the version it is released as.
 */
const DIGEST_OF_VERSION: Record<number, string> = {
  2: 'f97ebb24a72dae1eb15e46db190b05e0ea6ebecaa721817feec16edbb80325ee',
};

describe('the tenant storage role grant version', () => {
  it('names exactly this grant document: change the grant, bump TENANT_STORAGE_GRANT_VERSION and record its digest here', () => {
    // Prepare
    const document = tenantStorageRolePolicy({
      tenantId: T1,
      bucketArn: 'arn:aws:s3:::strongroom-prod-storage',
      storageKeyArn: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000001`,
    });
    // Act
    const digest = createHash('sha256').update(JSON.stringify(document)).digest('hex');
    // Assess
    expect(digest, `grant version ${TENANT_STORAGE_GRANT_VERSION}`).toBe(
      DIGEST_OF_VERSION[TENANT_STORAGE_GRANT_VERSION],
    );
  });
});
