import { runSimulation } from '@cloud-copilot/iam-simulate';

/** Every DynamoDB action that writes or removes items (what an append-only or read-only grant must refuse). */
export const DYNAMODB_ITEM_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export interface SimulatedRequest {
  /** The caller: an assumed-role session ARN, a role ARN, an account root. */
  principal: string;
  action: string;
  resource: string;
  /** The resource's account when its ARN has none (S3 buckets). @default the ARN's, else the principal's */
  resourceAccount?: string;
  /** Context keys as IAM would supply them (the simulator derives none, e.g. `aws:PrincipalArn`). */
  context?: Record<string, string | string[]>;
  identityPolicies: unknown[];
  sessionPolicy?: unknown;
  boundary?: unknown;
  resourcePolicy?: unknown;
}

/** One request through the IAM policy simulator (no SCPs or RCPs); the overall decision. */
export async function simulate(request: SimulatedRequest): Promise<Decision> {
  const accountId =
    request.resourceAccount ||
    request.resource.split(':')[4] ||
    request.principal.split(':')[4] ||
    '123456789012';
  const response = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId },
        contextVariables: request.context ?? {},
      },
      identityPolicies: request.identityPolicies.map((policy, i) => ({ name: `policy-${i}`, policy })),
      ...(request.sessionPolicy ? { sessionPolicy: request.sessionPolicy } : {}),
      ...(request.boundary
        ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: request.boundary }] }
        : {}),
      ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`simulation failed: ${JSON.stringify(response)}`);
  return response.overallResult as Decision;
}
