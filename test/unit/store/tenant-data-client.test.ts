import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { mintTenantScope } from '../../../shared/domain/tenant-scope.js';
import { TenantDataClients } from '../../../shared/store/tenant-data-client.js';

const sts = mockClient(STSClient);
const TABLES = {
  tenantDataTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/tenant-data',
  auditTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/audit',
  auditChainTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/audit-chain',
};
const T1 = 't_01jx0000000000000000000001';
const T2 = 't_01jx0000000000000000000002';

function credentials(expiresAt: number) {
  return {
    Credentials: {
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(expiresAt),
    },
  };
}

describe('TenantDataClients', () => {
  let now = 1_700_000_000_000;
  beforeEach(() => {
    sts.reset();
    now = 1_700_000_000_000;
    sts.on(AssumeRoleCommand).resolves(credentials(now + 3_600_000));
  });
  const clients = () =>
    new TenantDataClients({
      sts: new STSClient({}),
      roleArn: 'arn:aws:iam::123456789012:role/td',
      tables: TABLES,
      now: () => now,
    });

  it("assumes the tenant-data role with a session policy naming only the tenant's partition", async () => {
    // Act
    await clients().forScope(mintTenantScope({ tenantId: T1, userId: 'u_1' }));

    // Assess: one AssumeRole, tagged with the tenant, every statement conditioned
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    const input = sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input;
    expect(input.RoleArn).toBe('arn:aws:iam::123456789012:role/td');
    expect(input.Tags).toEqual([{ Key: 'TenantId', Value: T1 }]);
    const policy = JSON.parse(input.Policy!);
    expect(JSON.stringify(policy)).toContain(T1);
    expect(policy.Statement.every((s: { Condition: Record<string, unknown> }) => s.Condition.Null)).toBe(
      true,
    );
  });

  it('caches per tenant while warm and refreshes five minutes before expiry', async () => {
    // Prepare
    const c = clients();
    const a = mintTenantScope({ tenantId: T1, userId: 'u_1' });
    const b = mintTenantScope({ tenantId: T2, userId: 'u_1' });

    // Act: A twice, then B
    const first = await c.forScope(a);
    const again = await c.forScope(a);
    await c.forScope(b);

    // Assess: A's client is reused; one AssumeRole per tenant
    expect(again).toBe(first);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);

    // Act: 56 minutes later, within five minutes of expiry
    now += 56 * 60_000;
    const refreshed = await c.forScope(a);

    // Assess: a new client for A
    expect(refreshed).not.toBe(first);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 3);
  });

  it('fails closed when STS fails: no client, no other credentials', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));

    // Act / Assess
    await expect(clients().forScope(mintTenantScope({ tenantId: T1, userId: 'u_1' }))).rejects.toThrow(
      'down',
    );
  });

  it('refuses anything but a real scope', async () => {
    // Act / Assess: a look-alike object is refused before STS is called
    await expect(clients().forScope({ tenantId: T1, userId: 'u' } as never)).rejects.toThrow(TypeError);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);
  });

  it('asks its loader for STS only when it must assume the role, never for a cached tenant', async () => {
    // Prepare: the loader form tenantDataClientsFor passes, counting its calls
    const client = new STSClient({});
    let loads = 0;
    const c = new TenantDataClients({
      sts: async () => {
        loads += 1;
        return client;
      },
      roleArn: 'arn:aws:iam::123456789012:role/td',
      tables: TABLES,
      now: () => now,
    });

    // Act: nothing asked yet
    // Assess
    expect(loads).toBe(0);

    // Act: two tenants at once, then the first again
    await Promise.all([
      c.forScope(mintTenantScope({ tenantId: T1, userId: 'u_1' })),
      c.forScope(mintTenantScope({ tenantId: T2, userId: 'u_1' })),
    ]);
    await c.forScope(mintTenantScope({ tenantId: T1, userId: 'u_1' }));

    // Assess: the loader ran per AssumeRole (its client is the function's one, made once by the runtime),
    // and the cached tenant needed neither
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    expect(loads).toBe(2);
  });

  it('fails closed when its STS loader fails, and asks the loader again on the next request', async () => {
    // Prepare
    let fail = true;
    const c = new TenantDataClients({
      sts: async () => {
        if (fail) throw new Error('chunk missing');
        return new STSClient({});
      },
      roleArn: 'arn:aws:iam::123456789012:role/td',
      tables: TABLES,
      now: () => now,
    });
    const scope = mintTenantScope({ tenantId: T1, userId: 'u_1' });

    // Act / Assess: no client, no AssumeRole
    await expect(c.forScope(scope)).rejects.toThrow('chunk missing');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 0);

    // Act / Assess: the next request loads it and gets its client
    fail = false;
    await expect(c.forScope(scope)).resolves.toBeDefined();
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
  });
});
