import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../support/iam-simulator.js';
import { ACCOUNT, areaIdentityPolicies, BUCKET_ARNS, functionPrincipal } from './role-policies.js';
import { type Synthesised, synthStrongroom } from './synth.js';

/**
 * Location deletion (storage function) and tenant deletion (tenants function) delete managed-location objects,
 * every version (shared/store/managed-objects.ts): proved with the IAM policy simulator that each role may list
 * versions and delete objects and versions under `tenants/t_…/` of the managed bucket, list its incomplete
 * multipart uploads and abort those under `tenants/t_…/`, and nothing else.
 */
let synth: Synthesised;
let policies: Record<'storage' | 'tenants', ReturnType<typeof areaIdentityPolicies>>;

beforeAll(() => {
  synth = synthStrongroom();
  const stack = synth.stacks[0]!.stateless;
  policies = {
    storage: areaIdentityPolicies(stack, 'storage'),
    tenants: areaIdentityPolicies(stack, 'tenants'),
  };
});
afterAll(() => synth?.cleanup());

const T = 't_01jx0000000000000000000001';
const L = 'l_01jx0000000000000000000001';

describe.each(['storage', 'tenants'] as const)('the %s function’s purge of managed objects', (area) => {
  const decide = (action: string, resource: string, context?: Record<string, string>) =>
    simulate({
      principal: functionPrincipal(area),
      action,
      resource,
      resourceAccount: ACCOUNT,
      identityPolicies: policies[area],
      ...(context ? { context } : {}),
    });

  it('may list versions under a tenant or location prefix and delete objects and versions there', async () => {
    // Act / Assess
    for (const prefix of [`tenants/${T}/`, `tenants/${T}/${L}/`])
      expect(
        await decide('s3:ListBucketVersions', BUCKET_ARNS.storage, { 's3:prefix': prefix }),
        prefix,
      ).toBe('Allowed');
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload'])
      for (const key of [`tenants/${T}/${L}/a.csv`, `tenants/${T}/${L}/deep/b.parquet`])
        expect(await decide(action, `${BUCKET_ARNS.storage}/${key}`), `${action} ${key}`).toBe('Allowed');
  });

  it('may list the managed bucket’s incomplete multipart uploads (IAM has no prefix key for that) and abort them only under tenants/t_…', async () => {
    // Act / Assess: the listing, on the managed bucket only
    expect(await decide('s3:ListBucketMultipartUploads', BUCKET_ARNS.storage)).toBe('Allowed');
    for (const bucket of [BUCKET_ARNS.exports, 'arn:aws:s3:::customer-lake'])
      expect(await decide('s3:ListBucketMultipartUploads', bucket), bucket).not.toBe('Allowed');
    // Aborting outside tenants/t_…/ or in another bucket
    for (const resource of [
      `${BUCKET_ARNS.storage}/other/${T}/a`,
      `${BUCKET_ARNS.storage}/tenants/x_1/a`,
      `${BUCKET_ARNS.exports}/tenants/${T}/${L}/a`,
      `arn:aws:s3:::customer-lake/tenants/${T}/${L}/a`,
    ])
      expect(await decide('s3:AbortMultipartUpload', resource), resource).not.toBe('Allowed');
    // Nor the upload's other steps
    for (const action of ['s3:ListMultipartUploadParts', 's3:PutObject'])
      expect(await decide(action, `${BUCKET_ARNS.storage}/tenants/${T}/${L}/a`), action).not.toBe('Allowed');
  });

  it('may not list or delete outside tenant prefixes, in another bucket, nor read, write or reconfigure', async () => {
    // Act / Assess: listing the whole bucket, or outside tenants/t_…/
    for (const prefix of [undefined, '', 'tenants/', 'exports/', 'x/tenants/t_1/'])
      expect(
        await decide(
          's3:ListBucketVersions',
          BUCKET_ARNS.storage,
          prefix === undefined ? undefined : { 's3:prefix': prefix },
        ),
        String(prefix),
      ).not.toBe('Allowed');
    // Deleting outside tenants/t_…/, or in the export bucket or a customer's bucket
    for (const resource of [
      `${BUCKET_ARNS.storage}/other/${T}/a`,
      `${BUCKET_ARNS.storage}/tenants`,
      `${BUCKET_ARNS.storage}/tenants/x_1/a`,
      `${BUCKET_ARNS.exports}/tenants/${T}/${L}/a`,
      `arn:aws:s3:::customer-lake/tenants/${T}/${L}/a`,
    ])
      for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion'])
        expect(await decide(action, resource), `${action} ${resource}`).not.toBe('Allowed');
    expect(
      await decide('s3:ListBucketVersions', 'arn:aws:s3:::customer-lake', { 's3:prefix': `tenants/${T}/` }),
    ).not.toBe('Allowed');
    // No reading or writing managed objects (vended sessions do that), no bucket settings
    for (const action of ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'])
      expect(await decide(action, `${BUCKET_ARNS.storage}/tenants/${T}/${L}/a`), action).not.toBe('Allowed');
    for (const action of ['s3:PutLifecycleConfiguration', 's3:PutBucketVersioning', 's3:DeleteBucket'])
      expect(await decide(action, BUCKET_ARNS.storage), action).not.toBe('Allowed');
  });
});
