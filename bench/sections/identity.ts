import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { linkIn, takeMail } from '../../infra/local/inbox-reader.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { hashPassword, verifyPassword } from '../../shared/crypto/passwords.js';
import { printWhenRunDirectly, runInOwnProcess, withLocalSystem } from './local-system.js';
import type { BenchSection, BenchTable } from './types.js';

type Handler = (
  event: APIGatewayProxyEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<APIGatewayProxyResult>;

/**
 * Counts AWS calls and the wall time spent waiting on at least one of them (calls made in parallel count
 * once), per client class, by wrapping `send`.
 */
function instrument() {
  const counts = { dynamodb: 0, sts: 0, kms: 0, awsMs: 0 };
  let inFlight = 0;
  let busySince = 0;
  // The document client sends through its own stack, not the wrapped client's `send`: count both.
  for (const [name, cls] of [
    ['dynamodb', DynamoDBClient],
    ['dynamodb', DynamoDBDocumentClient],
    ['sts', STSClient],
    ['kms', KMSClient],
  ] as const) {
    const original = cls.prototype.send as (...args: unknown[]) => Promise<unknown>;
    (cls.prototype as { send: unknown }).send = async function (this: unknown, ...args: unknown[]) {
      counts[name]++;
      if (inFlight++ === 0) busySince = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        if (--inFlight === 0) counts.awsMs += performance.now() - busySince;
      }
    };
  }
  return counts;
}

function event(
  method: string,
  path: string,
  resource: string,
  body?: unknown,
  token?: string,
): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    headers: {
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      'User-Agent': 'bench',
    },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      identity: {
        sourceIp: `127.2.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`,
      },
    } as never,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Identity handler overhead against the emulator: sign-in (excluding the deliberate argon2id verify),
 * a session-authorised tenant request and an API-key request, each with the AWS calls it makes.
 * "Overhead" is the handler's own time: total minus time waiting on AWS calls (minus the hash for sign-in).
 */
export function run(): Promise<BenchTable> {
  // The system `npm run local` starts (emulator, provisioning, mail settings and inbox), without its
  // in-process sequencer, whose calls would be counted; the handlers are invoked directly.
  return withLocalSystem(runIdentity, { sequencer: false });
}

export const identitySection: BenchSection = { name: 'identity', run: () => runInOwnProcess(import.meta) };

async function runIdentity(system: { inbox: { apiUrl: string } }): Promise<BenchTable> {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const counts = instrument();
  const auth = (await import('../../functions/auth/handler.js')).handler as Handler;
  const { identityRecordsFor, rateLimiterFor } = await import('../../shared/http/auth.js');
  const { functionRuntime } = await import('../../shared/aws/runtime.js');
  const limiter = rateLimiterFor(identityRecordsFor(functionRuntime()));
  const tenants = (await import('../../functions/tenants/handler.js')).handler as Handler;
  const invoke = async (handler: Handler, e: APIGatewayProxyEvent) => {
    const result = await handler(e, lambdaContext('bench'));
    if (result.statusCode >= 400)
      throw new Error(`${e.httpMethod} ${e.path}: ${result.statusCode} ${result.body}`);
    return JSON.parse(result.body || '{}');
  };

  const email = `bench-${Date.now()}@example.test`;
  const password = 'bench-password-long-enough';
  await invoke(
    auth,
    event('POST', '/v1/auth/register', '/v1/auth/register', { email, password, name: 'Bench' }),
  );
  // Only a verified address may own a tenant.
  const verification = linkIn(await takeMail(system.inbox.apiUrl, email, /^Verify/), '/verify-email');
  await invoke(
    auth,
    event('POST', '/v1/auth/verify-email', '/v1/auth/verify-email', { token: verification.token }),
  );
  const { token } = await invoke(
    auth,
    event('POST', '/v1/auth/login', '/v1/auth/login', { email, password }),
  );
  const { tenantId } = await invoke(
    tenants,
    event('POST', '/v1/tenants', '/v1/tenants', { name: 'Bench' }, token),
  );
  const { key } = await invoke(
    tenants,
    event(
      'POST',
      `/v1/tenants/${tenantId}/api-keys`,
      '/v1/tenants/{tenantId}/api-keys',
      { name: 'b', scopes: ['tenant:read'] },
      token,
    ),
  );

  const hash = await hashPassword(password);
  const hashTimes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await verifyPassword(hash, password);
    hashTimes.push(performance.now() - started);
  }
  const hashMs = median(hashTimes);

  const measure = async (label: string, runs: number, once: () => Promise<unknown>, subtractMs = 0) => {
    await once(); // warm: clients, cached scoped credentials
    const totals: number[] = [];
    const overheads: number[] = [];
    let calls = { dynamodb: 0, sts: 0, kms: 0 };
    for (let i = 0; i < runs; i++) {
      const before = { ...counts };
      const started = performance.now();
      await once();
      const total = performance.now() - started;
      totals.push(total);
      overheads.push(total - (counts.awsMs - before.awsMs) - subtractMs);
      calls = {
        dynamodb: counts.dynamodb - before.dynamodb,
        sts: counts.sts - before.sts,
        kms: counts.kms - before.kms,
      };
    }
    return [
      label,
      median(totals).toFixed(1),
      Math.max(0, median(overheads)).toFixed(2),
      String(calls.dynamodb),
      String(calls.sts + calls.kms),
    ];
  };

  const rows = [
    await measure(
      'sign-in (argon2id verify excluded)',
      15,
      () => invoke(auth, event('POST', '/v1/auth/login', '/v1/auth/login', { email, password })),
      hashMs,
    ),
    await measure('session → GET /v1/tenants/{t}', 40, () =>
      invoke(tenants, event('GET', `/v1/tenants/${tenantId}`, '/v1/tenants/{tenantId}', undefined, token)),
    ),
    await measure('API key → GET /v1/tenants/{t}', 40, () =>
      invoke(tenants, event('GET', `/v1/tenants/${tenantId}`, '/v1/tenants/{tenantId}', undefined, key)),
    ),
    // One slot of a sliding-window limit: the previous window's count (cached once settled) and one
    // conditional ADD. Sign-in takes three such slots (per-client route limit, the account's budget for
    // the network, given back on success) and reads the account's recent failures.
    await measure('rate-limit slot (sliding window)', 40, () =>
      limiter.consume('bench', 'client', 1_000_000, 3600),
    ),
    ['argon2id verify (m=19456, t=2, p=1)', hashMs.toFixed(1), '—', '0', '0'],
  ];
  return {
    title: 'Identity: handler overhead per request (in-process against the emulator; warm function)',
    columns: ['request', 'total ms (median)', 'handler overhead ms', 'DynamoDB calls', 'STS+KMS calls'],
    rows,
  };
}

await printWhenRunDirectly(import.meta, run);
