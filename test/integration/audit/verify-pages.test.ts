import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionRuntime } from '../../../shared/aws/runtime.js';
import type { TenantCaller } from '../../../shared/domain/caller.js';
import { permissionsOf } from '../../../shared/domain/permissions.js';
import { ValidationError } from '../../../shared/errors.js';
import { AuditService } from '../../../shared/services/audit.js';
import type { AuditStore } from '../../../shared/store/audit-store.js';
import { encodeCursor } from '../../../shared/store/pagination.js';
import {
  itemsOf,
  newScope,
  overwrite,
  provisionedAuditStore,
  provisionedSequencer,
  sampleEvent,
} from './support.js';

let db: DynamoDBDocumentClient;
let store: AuditStore;

beforeAll(() => {
  db = functionRuntime().dynamo;
  store = provisionedAuditStore();
});

/** Eight events chained in batches of three: seals on records 3, 6 and 8. */
async function pagedLog() {
  const scope = newScope();
  for (let i = 1; i <= 8; i++) await store.record(scope, sampleEvent(i));
  await provisionedSequencer({ batchSize: 3 }).sequence(scope.tenantId);
  const caller = {
    access: { scope, role: 'reviewer', permissions: permissionsOf('reviewer') },
    principal: { kind: 'session', userId: scope.userId, credentialId: 's', mfaEnabled: false },
    ip: '192.0.2.1',
    userAgent: 'vitest',
  } as unknown as TenantCaller;
  // Two records a page: each answer stops at the next seal after two.
  const service = new AuditService({ store, verifyPageRecords: 2 });
  const walk = async () => {
    const pages = [];
    let cursor: string | undefined;
    do {
      const page = await service.verify(caller, { cursor });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor && pages.at(-1)!.ok);
    return pages;
  };
  return { scope, caller, service, walk };
}

describe('verification a page at a time', () => {
  it('walks a long chain in pages that each end on a seal, continuing with the cursor to the head', async () => {
    // Prepare
    const { walk } = await pagedLog();

    // Act
    const pages = await walk();

    // Assess: three pages, each ending on a seal, the last at the head with no cursor
    expect(pages.map((p) => [p.ok, p.complete, p.checked, p.from.sequence])).toEqual([
      [true, false, 3, 0],
      [true, false, 3, 3],
      [true, true, 2, 6],
    ]);
    expect(pages.at(-1)).toMatchObject({ head: { sequence: 8 } });
    expect(pages.at(-1)!.nextCursor).toBeUndefined();
  });

  it('names the first broken sequence on the page that holds it', async () => {
    // Prepare
    const { scope, walk } = await pagedLog();
    const chain = await itemsOf(db, scope.tenantId, 'CHAIN#');
    const [event] = await itemsOf(db, scope.tenantId, `EVENT#${chain[4]!.eventId.slice(2)}`);
    await overwrite(db, { ...event, details: { changed: true } });

    // Act
    const pages = await walk();

    // Assess
    expect(pages.map((p) => p.ok)).toEqual([true, false]);
    expect(pages[1]).toMatchObject({ firstBrokenSequence: 5, reason: 'hash-mismatch', checked: 1 });
  });

  it('refuses a cursor that does not point into the chain', async () => {
    // Prepare
    const { scope, caller, service } = await pagedLog();

    // Act / Assess: a cursor past the chain
    const cursor = encodeCursor({ pk: scope.tenantId, sk: 'CHAIN#000000000100' });
    await expect(service.verify(caller, { cursor })).rejects.toThrow(ValidationError);

    // Act / Assess: a cursor into another tenant's chain
    const other = encodeCursor({ pk: newScope().tenantId, sk: 'CHAIN#000000000002' });
    await expect(service.verify(caller, { cursor: other })).rejects.toThrow(ValidationError);
  });
});
