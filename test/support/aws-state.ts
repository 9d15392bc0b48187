import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { ListBucketsCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { clientConfig, documentClient } from '../../shared/aws/runtime.js';
import { type AwsCall, untappedClient } from './aws-call-tap.js';

/**
 * What the emulator holds that a request could change: every item of every DynamoDB table, every object
 * version of every bucket (key, version, size, ETag), every inline policy of every IAM role. Keys are
 * `table|pk|sk`, `s3|bucket|key|version`, `iam|role|policy`; values are canonical JSON.
 */
export type AwsState = Map<string, string>;

let clients: { dynamo: ReturnType<typeof documentClient>; s3: S3Client; iam: IAMClient } | undefined;
function snapshotClients() {
  clients ??= {
    dynamo: documentClient(untappedClient(new DynamoDBClient(clientConfig()))),
    s3: untappedClient(new S3Client({ ...clientConfig(), forcePathStyle: true })),
    iam: untappedClient(new IAMClient(clientConfig())),
  };
  return clients;
}

/** Reads the emulator's whole state (see AwsState). */
export async function awsState(): Promise<AwsState> {
  const { dynamo, s3, iam } = snapshotClients();
  const state: AwsState = new Map();
  const tables = (await dynamo.send(new ListTablesCommand({}))).TableNames ?? [];
  const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
  await Promise.all([
    ...tables.map(async (table) => {
      let ExclusiveStartKey: Record<string, any> | undefined;
      do {
        const page = await dynamo.send(
          new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey }),
        );
        for (const item of page.Items ?? []) {
          state.set(`${table}|${item.pk}|${item.sk}`, canonical(item));
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }),
    ...buckets.map(async ({ Name }) => {
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectVersionsCommand({ Bucket: Name, KeyMarker, VersionIdMarker }),
        );
        for (const v of page.Versions ?? [])
          state.set(`s3|${Name}|${v.Key}|${v.VersionId}`, canonical({ size: v.Size, etag: v.ETag }));
        for (const m of page.DeleteMarkers ?? [])
          state.set(`s3|${Name}|${m.Key}|${m.VersionId}`, canonical({ deleteMarker: true }));
        KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (KeyMarker);
    }),
    (async () => {
      const roles = (await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? [];
      await Promise.all(
        roles.map(async ({ RoleName }) => {
          const names = (await iam.send(new ListRolePoliciesCommand({ RoleName }))).PolicyNames ?? [];
          for (const PolicyName of names) {
            const doc = (await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }))).PolicyDocument;
            state.set(`iam|${RoleName}|${PolicyName}`, decodeURIComponent(doc ?? ''));
          }
        }),
      );
    })(),
  ]);
  return state;
}

/** What a write call may change, as AwsState keys with how to read each. */
function writeTargets(call: AwsCall): { key: string; read: () => Promise<string | undefined> }[] {
  const { dynamo, s3, iam } = snapshotClients();
  const item = (table: string, key: Record<string, any>) => {
    const pk = plain(key.pk);
    const sk = plain(key.sk);
    return {
      key: `${table}|${pk}|${sk}`,
      read: async () => {
        const { Item } = await dynamo.send(
          new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }),
        );
        return Item ? canonical(Item) : undefined;
      },
    };
  };
  const object = (bucket: string, key: string) => ({
    key: `s3|${bucket}|${key}`,
    read: async () => {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter((v) => v.Key === key);
      return versions.length
        ? canonical(versions.map((v) => [v.VersionId, 'Size' in v ? v.Size : 'deleted']))
        : undefined;
    },
  });
  const role = (roleName: string) => ({
    key: `iam|${roleName}`,
    read: async () => {
      try {
        const names = (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
        const docs = await Promise.all(
          names.map(async (PolicyName) => [
            PolicyName,
            decodeURIComponent(
              (await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName }))).PolicyDocument ??
                '',
            ),
          ]),
        );
        return canonical(docs);
      } catch (error) {
        if ((error as Error).name === 'NoSuchEntity' || (error as Error).name === 'NoSuchEntityException')
          return undefined;
        throw error;
      }
    },
  });
  const input = call.input;
  switch (`${call.client}.${call.command}`) {
    case 'DynamoDBClient.PutItemCommand':
      return [item(input.TableName, input.Item)];
    case 'DynamoDBClient.UpdateItemCommand':
    case 'DynamoDBClient.DeleteItemCommand':
      return [item(input.TableName, input.Key)];
    case 'DynamoDBClient.TransactWriteItemsCommand':
      // Put, Update and Delete entries write; ConditionCheck entries only read.
      return (input.TransactItems as Record<string, any>[]).flatMap((entry) =>
        Object.entries(entry).flatMap(([kind, op]: [string, any]) =>
          kind === 'ConditionCheck' || !op ? [] : [item(op.TableName, op.Item ?? op.Key)],
        ),
      );
    case 'DynamoDBClient.BatchWriteItemCommand':
      return Object.entries(input.RequestItems as Record<string, any[]>).flatMap(([table, requests]) =>
        requests.map((r) => item(table, r.PutRequest?.Item ?? r.DeleteRequest?.Key)),
      );
    case 'S3Client.PutObjectCommand':
    case 'S3Client.DeleteObjectCommand':
    case 'S3Client.CopyObjectCommand':
    case 'S3Client.CreateMultipartUploadCommand':
    case 'S3Client.CompleteMultipartUploadCommand':
      return [object(input.Bucket, input.Key)];
    case 'S3Client.DeleteObjectsCommand':
      return (input.Delete?.Objects ?? []).map((o: { Key: string }) => object(input.Bucket, o.Key));
    case 'IAMClient.PutRolePolicyCommand':
    case 'IAMClient.DeleteRolePolicyCommand':
    case 'IAMClient.CreateRoleCommand':
    case 'IAMClient.DeleteRoleCommand':
      return [role(input.RoleName)];
    default:
      return [];
  }
}

/** A DynamoDB key attribute in either form (document client, or low-level `{ S: … }`). */
const plain = (value: any) => (value && typeof value === 'object' && 'S' in value ? value.S : value);

/**
 * The state a run's writes touched: before each write call goes on, what its targets held (first write
 * only); after the run, what they hold. Cheaper than a whole snapshot, and exact for an in-process API whose
 * every write is an AWS SDK call (the tap sees them all).
 */
export class TouchedState {
  readonly #before = new Map<string, string | undefined>();
  readonly #readers = new Map<string, () => Promise<string | undefined>>();

  /** For the tap: records the pre-image of what `call` may write. */
  readonly beforeCall = async (call: AwsCall): Promise<void> => {
    for (const target of writeTargets(call)) {
      if (this.#readers.has(target.key)) continue;
      this.#readers.set(target.key, target.read);
      this.#before.set(target.key, await target.read());
    }
  };

  /** Every touched entry that now differs from its pre-image. */
  async changes(): Promise<StateChange[]> {
    const changes: StateChange[] = [];
    for (const [key, read] of this.#readers) {
      const b = this.#before.get(key);
      const a = await read();
      if (a !== b)
        changes.push({
          key,
          before: b === undefined ? undefined : parse(b),
          after: a === undefined ? undefined : parse(a),
        });
    }
    return changes.sort((x, y) => x.key.localeCompare(y.key));
  }
}

/** One difference between two states: the entry before (absent: added) and after (absent: removed). */
export interface StateChange {
  key: string;
  before?: Record<string, any>;
  after?: Record<string, any>;
}

/** Every entry that differs between `before` and `after`. */
export function stateChanges(before: AwsState, after: AwsState): StateChange[] {
  const changes: StateChange[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(key);
    const a = after.get(key);
    if (b === a) continue;
    changes.push({
      key,
      before: b === undefined ? undefined : parse(b),
      after: a === undefined ? undefined : parse(a),
    });
  }
  return changes.sort((x, y) => x.key.localeCompare(y.key));
}

const parse = (text: string) => {
  try {
    return JSON.parse(text) as Record<string, any>;
  } catch {
    return { text };
  }
};

/** JSON with object keys sorted (sets as sorted arrays), so equal items compare equal as strings. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v instanceof Set) return [...v].sort();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (v && typeof v === 'object' && !Array.isArray(v))
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)));
    return v;
  });
}
