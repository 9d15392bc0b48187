/**
 * The AWS partitions Strongroom runs in, and how each names its services' endpoints: ARNs carry the
 * partition (`arn:<partition>:…`) and `kms:ViaService` values end in the partition's DNS suffix.
 */
export const PARTITION_DNS_SUFFIX = {
  aws: 'amazonaws.com',
  'aws-cn': 'amazonaws.com.cn',
  'aws-us-gov': 'amazonaws.com',
  'aws-iso': 'c2s.ic.gov',
  'aws-iso-b': 'sc2s.sgov.gov',
} as const;
export type AwsPartition = keyof typeof PARTITION_DNS_SUFFIX;

/** The partition a region belongs to (`cn-…` China, `us-gov-…` GovCloud, the rest the commercial one). */
export function partitionOfRegion(region: string): AwsPartition {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** The partition named by an ARN (`arn:<partition>:…`); TypeError for one Strongroom does not run in. */
export function partitionOfArn(arn: string): AwsPartition {
  const partition = /^arn:([a-z-]+):/.exec(arn)?.[1];
  if (!partition || !(partition in PARTITION_DNS_SUFFIX))
    throw new TypeError(`not an ARN of a known partition: ${arn}`);
  return partition as AwsPartition;
}

/**
 * A service's endpoint host in a region (`s3.eu-west-1.amazonaws.com`, `s3.cn-north-1.amazonaws.com.cn`): the
 * `kms:ViaService` value of requests that service makes. Pass `dnsSuffix` when the region is a CDK token
 * (`Stack.of(scope).urlSuffix`), whose partition cannot be read from it.
 */
export function serviceHost(
  service: 's3' | 'dynamodb',
  region: string,
  dnsSuffix: string = PARTITION_DNS_SUFFIX[partitionOfRegion(region)],
): string {
  return `${service}.${region}.${dnsSuffix}`;
}
