/**
 * What IAM sees of a DynamoDB write the code sends: the action, the table, and the condition keys
 * `dynamodb:LeadingKeys` (partition keys), `dynamodb:Attributes` (the top-level attribute names the request
 * touches: the item's for a put, the key's and every name its expressions mention otherwise) and
 * `dynamodb:ReturnValues`. A transaction is judged item by item, as IAM does (each item needs its own action).
 */
export interface WriteRequest {
  action: string;
  table: string;
  context: Record<string, string | string[]>;
  /** What the code was doing, for failure messages. */
  label: string;
}

interface ItemOperation {
  TableName?: string;
  Key?: Record<string, unknown>;
  Item?: Record<string, unknown>;
  UpdateExpression?: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ReturnValues?: string;
}

const NOT_NAMES = new Set(
  [
    'set',
    'add',
    'remove',
    'delete',
    'and',
    'or',
    'not',
    'in',
    'between',
    'attribute_exists',
    'attribute_not_exists',
    'attribute_type',
    'begins_with',
    'contains',
    'size',
    'if_not_exists',
    'list_append',
  ].map((w) => w.toLowerCase()),
);

/** Top-level attribute names an expression mentions (`#name` resolved; `:values` and keywords skipped). */
export function expressionNames(
  expression: string | undefined,
  names: Record<string, string> = {},
): string[] {
  if (!expression) return [];
  const found: string[] = [];
  for (const match of expression.matchAll(
    /([:#]?)([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_#][A-Za-z0-9_]*)*)/g,
  )) {
    const [, sigil, word] = match;
    if (sigil === ':') continue;
    if (sigil === '#') {
      const name = names[`#${word}`];
      if (name === undefined) throw new Error(`unknown expression name #${word}`);
      found.push(name);
      continue;
    }
    if (NOT_NAMES.has(word!.toLowerCase())) continue;
    found.push(word!);
  }
  return found;
}

function itemRequest(action: string, op: ItemOperation, label: string): WriteRequest {
  const key = op.Key ?? op.Item ?? {};
  const attributes = new Set<string>(Object.keys(op.Item ?? op.Key ?? {}));
  for (const expression of [op.UpdateExpression, op.ConditionExpression])
    for (const name of expressionNames(expression, op.ExpressionAttributeNames)) attributes.add(name);
  return {
    action,
    table: op.TableName!,
    label,
    context: {
      'dynamodb:LeadingKeys': [String(key.pk)],
      'dynamodb:Attributes': [...attributes].sort(),
      ...(op.ReturnValues ? { 'dynamodb:ReturnValues': op.ReturnValues } : {}),
    },
  };
}

/** The IAM requests one DocumentClient command input stands for (reads give none). */
export function writeRequestsOf(
  commandName: string,
  input: Record<string, unknown>,
  label: string,
): WriteRequest[] {
  switch (commandName) {
    case 'PutCommand':
      return [itemRequest('dynamodb:PutItem', input as ItemOperation, label)];
    case 'UpdateCommand':
      return [itemRequest('dynamodb:UpdateItem', input as ItemOperation, label)];
    case 'DeleteCommand':
      return [itemRequest('dynamodb:DeleteItem', input as ItemOperation, label)];
    case 'TransactWriteCommand':
      return (input.TransactItems as Record<string, ItemOperation>[]).map((item) => {
        const [kind, op] = Object.entries(item)[0]!;
        const action = {
          Put: 'PutItem',
          Update: 'UpdateItem',
          Delete: 'DeleteItem',
          ConditionCheck: 'ConditionCheckItem',
        }[kind];
        if (!action) throw new Error(`unknown transaction item ${kind}`);
        return itemRequest(`dynamodb:${action}`, op, `${label} (${kind})`);
      });
    case 'BatchWriteCommand':
      return Object.entries(
        input.RequestItems as Record<string, Record<string, { Key?: object; Item?: object }>[]>,
      ).map(([table, requests]) => ({
        action: 'dynamodb:BatchWriteItem',
        table,
        label,
        context: {
          'dynamodb:LeadingKeys': requests.map((r) =>
            String(
              ((r.DeleteRequest ?? r.PutRequest) as { Key?: { pk: string }; Item?: { pk: string } }).Key
                ?.pk ?? (r.PutRequest as { Item?: { pk: string } }).Item?.pk,
            ),
          ),
        },
      }));
    default:
      return [];
  }
}
