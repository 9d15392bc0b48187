import type { AwsPartition } from '../../shared/domain/partitions.js';
import { MAX_PREVIOUS_KMS_KEYS } from '../../shared/domain/storage-limits.js';
import {
  packedSessionPolicy,
  STS_SESSION_POLICY_MAX_CHARS,
  sessionPolicyFor,
} from '../../shared/domain/storage-policy.js';
import { MAX_PREFIX_LENGTH, managedRoot, parseStorageRoot } from '../../shared/domain/storage-roots.js';
import type { BenchSection } from './types.js';

const ACCOUNT = '123456789012';
const PARTITIONS: { partition: AwsPartition; region: string }[] = [
  { partition: 'aws', region: 'eu-central-1' },
  { partition: 'aws-us-gov', region: 'us-gov-west-1' },
  { partition: 'aws-cn', region: 'cn-north-1' },
];

/** The longest key ARN KMS issues (a multi-Region key id) in `partition`. */
const keyArn = (partition: string, region: string, digit: string) =>
  `arn:${partition}:kms:${region}:${ACCOUNT}:key/mrk-${digit.repeat(32)}`;

/**
 * Session-policy sizes against STS's budget: the largest location the API accepts (longest bucket name and
 * prefix, the current KMS key and every previous one it takes, write access) and the largest managed write
 * session (the tenant key, the storage key to decrypt, the SSE denies), per partition, as sent to STS. A
 * location that would not fit is refused at registration (400 naming body.root); this shows the headroom.
 */
export const policySizesSection: BenchSection = {
  name: 'policy-sizes',
  async run() {
    const bucket = `${'b'.repeat(30)}.${'c'.repeat(32)}`;
    const segments: string[] = [];
    while ([...segments, 'x'].join('/').length < MAX_PREFIX_LENGTH - 10) segments.push('segment-long-9');
    const prefix = `${segments.join('/')}/${'z'.repeat(MAX_PREFIX_LENGTH - segments.join('/').length - 1)}`;
    const external = parseStorageRoot(`s3://${bucket}/${prefix}`);
    const managed = managedRoot(bucket, 't_01j00000000000000000000000', 'l_01j00000000000000000000000');
    const row = (label: string, text: string) => [
      label,
      String(text.length),
      `${((100 * text.length) / STS_SESSION_POLICY_MAX_CHARS).toFixed(1)} %`,
      String(STS_SESSION_POLICY_MAX_CHARS - text.length),
    ];
    const rows: string[][] = [];
    for (const { partition, region } of PARTITIONS) {
      rows.push(
        row(
          `largest external location, write, ${1 + MAX_PREVIOUS_KMS_KEYS} KMS keys (${partition})`,
          packedSessionPolicy(
            sessionPolicyFor({
              ...external,
              access: 'write',
              partition,
              kmsKeyArn: keyArn(partition, region, 'a'),
              previousKmsKeyArns: Array.from({ length: MAX_PREVIOUS_KMS_KEYS }, (_, i) =>
                keyArn(partition, region, String(i)),
              ),
            }),
          ),
        ),
        row(
          `largest managed location, write, tenant key enforced (${partition})`,
          packedSessionPolicy(
            sessionPolicyFor({
              ...managed,
              access: 'write',
              partition,
              kmsKeyArn: keyArn(partition, region, 'a'),
              previousKmsKeyArns: [keyArn(partition, region, 'b')],
              enforceKmsKey: true,
            }),
          ),
        ),
      );
    }
    return {
      title: `Storage: session-policy size as sent to STS (limit ${STS_SESSION_POLICY_MAX_CHARS} characters; the vend's audit event also records STS's PackedPolicySize)`,
      columns: ['session', 'characters', 'of the limit', 'headroom'],
      rows,
    };
  },
};
