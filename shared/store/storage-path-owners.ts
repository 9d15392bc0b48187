import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storageNodeKey } from '../domain/item-layout.js';
import { ancestorPrefixes, type StorageRoot } from '../domain/storage-roots.js';

/**
 * Which tenant registered the external root that contains a path, read from the global root registry
 * (one node per path that matters; a registered root's node holds `owner`). Roots never overlap across
 * tenants, so at most one tenant owns nodes on a path's way up. Function-role client: the registry is
 * platform data, in the identity table.
 */
export class StoragePathOwners {
  constructor(
    private readonly platformClient: DynamoDBDocumentClient,
    private readonly identityTable: string,
  ) {}

  /** The owning tenant of the narrowest registered external root containing `path`, if any. */
  async ownerOf(path: StorageRoot): Promise<string | undefined> {
    const prefixes = path.prefix === '' ? [''] : [...ancestorPrefixes(path), path.prefix];
    let keys = prefixes.map((prefix) => storageNodeKey(path.bucket, prefix));
    const owners: string[] = [];
    // At most 25 keys (the depth limit of a path), within BatchGet's 100; unprocessed keys are retried.
    for (let attempt = 0; keys.length > 0 && attempt < 5; attempt++) {
      const result = await this.platformClient.send(
        new BatchGetCommand({
          RequestItems: {
            [this.identityTable]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: 'pk, #owner',
              ExpressionAttributeNames: { '#owner': 'owner' },
            },
          },
        }),
      );
      for (const item of result.Responses?.[this.identityTable] ?? [])
        if (typeof item.owner === 'string') owners.push(item.owner);
      keys = (result.UnprocessedKeys?.[this.identityTable]?.Keys ?? []) as typeof keys;
    }
    if (keys.length > 0) throw new Error('The root registry did not answer every key.');
    return owners[0];
  }
}
