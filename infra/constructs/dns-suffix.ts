import { Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { PARTITION_DNS_SUFFIX, partitionOfRegion } from '../../shared/domain/partitions.js';

/**
 * The DNS suffix of the scope's partition (`amazonaws.com`, `amazonaws.com.cn`), for `kms:ViaService` values:
 * written out when the stack's region is known, the `AWS::URLSuffix` token when it is not.
 */
export function dnsSuffixOf(scope: IConstruct): string {
  const { region, urlSuffix } = Stack.of(scope);
  return Token.isUnresolved(region) ? urlSuffix : PARTITION_DNS_SUFFIX[partitionOfRegion(region)];
}
