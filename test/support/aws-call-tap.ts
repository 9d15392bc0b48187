import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import type { MiddlewareStack } from '@smithy/types';

/** One AWS SDK call as a client's middleware sees it, before the SDK's retries. */
export interface AwsCall {
  /** When the run that made the call began (ms). */
  runStartedAt: number;
  /** `DynamoDBClient`, `STSClient`… */
  client: string;
  /** `PutItemCommand`, `AssumeRoleCommand`… */
  command: string;
  input: Record<string, any>;
}

/** The faults the harness injects: what the SDK raises once its own retries are spent. */
export const FAULT_KINDS = ['throttling', 'server-error', 'timeout', 'lost-race'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

type TapMode =
  | { mode: 'off' }
  | { mode: 'count'; calls: AwsCall[]; startedAt: number }
  | {
      mode: 'fail';
      startedAt: number;
      target: CallTarget;
      kind: FaultKind;
      seen: AwsCall[];
      matched: number;
      injected?: AwsCall;
      beforeCall?: (call: AwsCall) => Promise<void>;
    };

/**
 * Which call of a run to fail: the `occurrence`-th call with this signature (client, command, table). Counting
 * by signature rather than by position keeps the target when a warm cache (tenant-scoped credentials,
 * data keys) skips calls before it.
 */
export interface CallTarget {
  signature: string;
  occurrence: number;
}

/** A call's signature: client, command and, for DynamoDB, the table(s). */
export function signatureOf(call: AwsCall): string {
  const tables = call.input.TableName
    ? [call.input.TableName]
    : call.input.TransactItems
      ? [
          ...new Set(
            (call.input.TransactItems as Record<string, { TableName?: string }>[]).flatMap((i) =>
              Object.values(i).map((op) => op?.TableName),
            ),
          ),
        ]
      : call.input.RequestItems
        ? Object.keys(call.input.RequestItems)
        : [];
  return [call.client, call.command, ...tables].join(' ');
}

/** The target of the k-th (1-based) call of a discovered sequence. */
export function targetOf(calls: AwsCall[], k: number): CallTarget {
  const signature = signatureOf(calls[k - 1]!);
  return { signature, occurrence: calls.slice(0, k).filter((c) => signatureOf(c) === signature).length };
}

let tap: TapMode = { mode: 'off' };
/** Stacks of the harness's own clients (state snapshots): never counted, never failed. */
const untapped = new WeakSet<object>();
const tapped = new WeakSet<object>();

/**
 * Adds one middleware to every AWS SDK client of this process (the handlers' runtime clients, tenant-scoped
 * clients, clients a service makes with vended credentials, and any added later): at its first `send`, a
 * client's stack gains an `initialize`-step middleware, ahead of the SDK's retry middleware, that counts
 * the call or raises the fault chosen for it. Every v3 client (and the DynamoDB document client, which
 * shares its client's stack) extends the one smithy `Client` class, so nothing in the functions' code or
 * bundles knows about it.
 */
export function installAwsCallTap(): void {
  const proto = Object.getPrototypeOf(DynamoDBClient.prototype) as {
    send: (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: any[]) => any;
    /** The SDK's own send, kept by the first install. */
    __sendBeforeTap?: (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: any[]) => any;
  };
  // The SDK is loaded once per worker, this module once per test file: a later file's install replaces an
  // earlier file's wrapper (and, through `override`, its middleware on every client), so the calls reach
  // this file's tap state, not a state left from a file that has ended.
  proto.__sendBeforeTap ??= proto.send;
  const send = proto.__sendBeforeTap;
  proto.send = function (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: any[]) {
    const stack = this.middlewareStack;
    if (!tapped.has(stack) && !untapped.has(stack)) {
      tapped.add(stack);
      stack.add(
        (next, context) => async (call) => {
          const seen: AwsCall = {
            runStartedAt: tap.mode === 'off' ? 0 : tap.startedAt,
            client: String(context.clientName ?? 'unknown'),
            command: String(context.commandName ?? 'unknown'),
            input: (call.input ?? {}) as Record<string, any>,
          };
          if (tap.mode === 'fail' && tap.beforeCall) await tap.beforeCall(seen);
          observe(seen);
          return next(call);
        },
        { step: 'initialize', priority: 'high', name: 'strongroomFaultTap', override: true },
      );
    }
    return send.apply(this, args);
  };
}

/** Marks a client of the harness's own (its calls are neither counted nor failed). */
export function untappedClient<C extends { middlewareStack: object }>(client: C): C {
  untapped.add(client.middlewareStack);
  return client;
}

function observe(call: AwsCall): void {
  if (tap.mode === 'count') tap.calls.push(call);
  else if (tap.mode === 'fail') {
    tap.seen.push(call);
    if (
      !tap.injected &&
      signatureOf(call) === tap.target.signature &&
      ++tap.matched === tap.target.occurrence
    ) {
      tap.injected = call;
      throw faultFor(tap.kind, call);
    }
  }
}

/** The run in progress, if any: runs take turns, as the tap's mode is one for the process. */
let running: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` once every earlier run has ended, so that a run left going by a test that timed out cannot
 * count or fail another test's calls. A run must not start another inside itself: it would wait for itself.
 */
async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  const earlier = running;
  const mine = earlier.catch(() => {}).then(work);
  running = mine.catch(() => {});
  return mine;
}

/** Runs `act` counting every AWS call made meanwhile; the calls in order. */
export function countingCalls(act: () => Promise<unknown>): Promise<AwsCall[]> {
  return inTurn(async () => {
    const mode: TapMode = { mode: 'count', calls: [], startedAt: Date.now() };
    tap = mode;
    try {
      await act();
    } finally {
      tap = { mode: 'off' };
    }
    return mode.calls;
  });
}

/** Runs `act` with the targeted AWS call failing with `kind`; the call that failed, if reached. */
export async function failingCall<T>(
  target: CallTarget,
  kind: FaultKind,
  act: () => Promise<T>,
  /** Awaited before each call goes on (or fails): where a harness reads what a write is about to change. */
  beforeCall?: (call: AwsCall) => Promise<void>,
): Promise<{ result: T; injected?: AwsCall; calls: AwsCall[] }> {
  return inTurn(async () => {
    const mode: Extract<TapMode, { mode: 'fail' }> = {
      mode: 'fail',
      startedAt: Date.now(),
      target,
      kind,
      seen: [],
      matched: 0,
      beforeCall,
    };
    tap = mode;
    try {
      const result = await act();
      return { result, injected: mode.injected, calls: mode.seen };
    } finally {
      tap = { mode: 'off' };
    }
  });
}

/**
 * Whether a call is a conditional DynamoDB write that another writer could beat: not a create guarded only by
 * `attribute_not_exists` of a key the request minted at random (an event id, a flow's state hash, an id made
 * during the run), which no one else can know, so no race exists there.
 */
export function isConditionalWrite(call: AwsCall): boolean {
  if (call.client !== 'DynamoDBClient') return false;
  if (['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand'].includes(call.command))
    return raceable(call.input, call.runStartedAt);
  if (call.command === 'TransactWriteItemsCommand') return conditionalItemIndex(call) >= 0;
  return false;
}

/** Keys made of randomness the request drew itself. */
const RANDOM_KEYS = /^(EVENT#|OIDC-FLOW#|PASSKEY-CHALLENGE#|MAIL-TOKEN#|SESSION#)/;
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
/** The ids in a key (`t_01…`) that were minted after `since` (their ULID time). */
function mintedSince(text: string, since: number): boolean {
  for (const [, ulid] of text.matchAll(/[a-z]_([0-9a-hjkmnp-tv-z]{26})/g)) {
    let ms = 0;
    for (const ch of ulid!.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(ch);
    if (ms >= since) return true;
  }
  for (const [, ulid] of text.matchAll(/EVENT#([0-9a-hjkmnp-tv-z]{26})/g)) if (ulid) return true;
  return false;
}

function raceable(
  op: Record<string, any> | undefined,
  runStartedAt: number,
  conditionCheck = false,
): boolean {
  if (!op) return false;
  if (conditionCheck) return true;
  const condition = op.ConditionExpression;
  if (typeof condition !== 'string') return false;
  if (!/^\s*attribute_not_exists\(\s*[#\w]+\s*\)\s*$/.test(condition)) return true;
  const key = op.Item ?? op.Key ?? {};
  const pk = String(key.pk?.S ?? key.pk ?? '');
  const sk = String(key.sk?.S ?? key.sk ?? '');
  return !(RANDOM_KEYS.test(pk) || RANDOM_KEYS.test(sk) || mintedSince(`${pk} ${sk}`, runStartedAt));
}

function conditionalItemIndex(call: AwsCall): number {
  const items = (call.input.TransactItems ?? []) as Record<string, Record<string, any>>[];
  return items.findIndex((item) =>
    Object.entries(item).some(([kind, op]) => raceable(op, call.runStartedAt, kind === 'ConditionCheck')),
  );
}

/** The fault kinds that apply to a call: a lost race only where the call is a conditional write. */
export function faultKindsFor(call: AwsCall): FaultKind[] {
  return FAULT_KINDS.filter((kind) => kind !== 'lost-race' || isConditionalWrite(call));
}

const metadata = (httpStatusCode: number) => ({
  httpStatusCode,
  requestId: 'fault-injected',
  attempts: 3,
  totalRetryDelay: 0,
});

/** The error the SDK would raise for `call` after its retries, for a fault of `kind`. */
export function faultFor(kind: FaultKind, call: AwsCall): Error {
  switch (kind) {
    case 'throttling':
      return awsError(
        call.client === 'S3Client' ? 'SlowDown' : 'ThrottlingException',
        'Rate exceeded',
        'client',
        call.client === 'S3Client' ? 503 : 400,
      );
    case 'server-error':
      return awsError(
        call.client === 'S3Client' ? 'InternalError' : 'InternalServerError',
        'We encountered an internal error. Please try again.',
        'server',
        500,
      );
    case 'timeout':
      // What @smithy/node-http-handler raises when a request outlives its timeout (no response, no metadata).
      return Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' });
    case 'lost-race': {
      if (call.command === 'TransactWriteItemsCommand') {
        const items = (call.input.TransactItems ?? []) as unknown[];
        const lost = conditionalItemIndex(call);
        return new TransactionCanceledException({
          message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
          $metadata: metadata(400),
          CancellationReasons: items.map((_, i) =>
            i === lost
              ? { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }
              : { Code: 'None' },
          ),
        });
      }
      return new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: metadata(400),
      });
    }
  }
}

function awsError(name: string, message: string, fault: 'client' | 'server', status: number): Error {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: metadata(status) });
}
