import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../shared/sdk/cli.js';
import { type TenantWithRoles, tenantWithEveryRole } from '../support/identity-fixtures.js';
import { TEST_REGION } from '../support/integration-setup.js';
import { startTestApi, type TestApi } from '../support/local-api.js';
import { SELF_TEST_WITHOUT_IAM } from '../support/storage-self-test.js';

/**
 * POST …/storage-locations/{id}/validate against the emulator: what it can judge there passes, what only
 * IAM could decide is reported `not-judged` (never passed), the probe object is gone, the run is audited.
 * The AWS-judged branches (refusals, leaks, keys) are in test/unit/services/storage-validation.test.ts.
 */

let api: TestApi;
let acme: TenantWithRoles;
let globex: TenantWithRoles;
let endpoint: string;
let managed: { locationId: string; bucket: string; prefix: string };

const validate = (tenantId: string, locationId: string, token: string) =>
  api.request('POST', `/v1/tenants/${tenantId}/storage-locations/${locationId}/validate`, { token });

async function auditActions(tenantId: string) {
  const { Items } = await DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: TEST_REGION }),
  ).send(
    new QueryCommand({
      TableName: process.env.AUDIT_TABLE,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': tenantId },
    }),
  );
  return Items ?? [];
}

beforeAll(async () => {
  endpoint = inject('awsEndpoint');
  api = await startTestApi();
  acme = await tenantWithEveryRole(api, 'Acme');
  globex = await tenantWithEveryRole(api, 'Globex');
  const res = await api.request('POST', `/v1/tenants/${acme.tenantId}/storage-locations`, {
    token: acme.users.admin.token,
    body: { managed: true },
  });
  expect(res.status, res.text).toBe(201);
  managed = res.body;
});

afterAll(async () => {
  await api.close();
});

describe('validating a managed location on the emulator', () => {
  it('passes what the emulator can judge, reports the rest as not judged, and leaves no probe object', async () => {
    // Act
    const res = await validate(acme.tenantId, managed.locationId, acme.users.admin.token);
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe('incomplete');
    expect(
      Object.fromEntries(res.body.checks.map((c: { name: string; status: string }) => [c.name, c.status])),
    ).toEqual(SELF_TEST_WITHOUT_IAM);
    for (const check of res.body.checks) expect(check.detail.length).toBeGreaterThan(10);
    const s3 = new S3Client({
      endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const { Contents } = await s3.send(new ListObjectsV2Command({ Bucket: managed.bucket }));
    expect((Contents ?? []).map((o) => o.Key).filter((k) => k?.includes('strongroom-validation'))).toEqual(
      [],
    );
    // The run and both vends are in the tenant's audit log, with no credential in them.
    const events = await auditActions(acme.tenantId);
    const validated = events.filter((e) => e.action === 'storage-location.validated');
    expect(validated).toHaveLength(1);
    expect(validated[0]!.details.result).toBe('incomplete');
    expect(JSON.stringify(validated)).not.toMatch(/ASIA|secretAccessKey|sessionToken/);
    const vends = events.filter(
      (e) => e.action === 'storage-credentials.vended' && e.resource.id === managed.locationId,
    );
    expect(vends.map((e) => e.details.access).sort()).toEqual(['read', 'write']);
  });

  it.each(['editor', 'viewer'] as const)(
    'an %s is refused (403), nothing is vended, and only the refusal is audited',
    async (role) => {
      // Prepare
      const before = (await auditActions(acme.tenantId)).length;
      // Act
      const res = await validate(acme.tenantId, managed.locationId, acme.users[role].token);
      // Assess
      expect(res.status).toBe(403);
      expect((await auditActions(acme.tenantId)).slice(before).map((e) => e.action)).toEqual([
        'auth.action.refused',
      ]);
    },
  );

  it("another tenant's admin gets 404 for this location, and for their own tenant with its id", async () => {
    // Prepare
    const before = (await auditActions(acme.tenantId)).length;

    // Act: through acme's id, and through globex's own
    const cross = await validate(acme.tenantId, managed.locationId, globex.users.admin.token);
    const own = await validate(globex.tenantId, managed.locationId, globex.users.admin.token);

    // Assess: 404 both, and nothing audited in either tenant
    expect(cross.status).toBe(404);
    expect(own.status).toBe(404);
    expect((await auditActions(acme.tenantId)).length).toBe(before);
    expect(
      (await auditActions(globex.tenantId)).filter((e) => e.action === 'storage-location.validated'),
    ).toEqual([]);
  });

  it('the CLI prints the checks and the result (exit 0: nothing failed)', async () => {
    // Prepare
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      env: { STRONGROOM_ENDPOINT: api.url, STRONGROOM_TOKEN: acme.users.owner.token },
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      readStdin: async () => '',
    };
    // Act
    const code = await main(
      ['storage', 'validate', '--tenant', acme.tenantId, '--location', managed.locationId],
      io,
    );
    // Assess
    expect(code, err.join('')).toBe(0);
    expect(out.join('')).toMatch(/write-inside-prefix\s+pass/);
    expect(out.join('')).toMatch(/write-outside-prefix-refused\s+not-judged/);
    expect(out.join('')).toContain('result: incomplete');
  });

  it('a malformed location id is a 400 naming params.locationId', async () => {
    // Act
    const res = await validate(acme.tenantId, 'l_nope', acme.users.admin.token);

    // Assess
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['params.locationId']);
  });
});
