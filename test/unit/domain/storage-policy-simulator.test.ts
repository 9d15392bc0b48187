import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../../shared/domain/iam.js';
import { ROLES, roleHas } from '../../../shared/domain/permissions.js';
import { STORAGE_ACCESS, type StorageAccess } from '../../../shared/domain/storage-limits.js';
import {
  permissionForAccess,
  READ_OBJECT_ACTIONS,
  STORAGE_KEY_READ_ACTIONS,
  STORAGE_KEY_WRITE_ACTIONS,
  sessionPolicyFor,
  WRITE_OBJECT_ACTIONS,
} from '../../../shared/domain/storage-policy.js';
import { managedRoot } from '../../../shared/domain/storage-roots.js';
import {
  tenantStorageBoundaryPolicy,
  tenantStorageLayout,
  tenantStorageRoleArn,
  tenantStorageRolePolicy,
} from '../../../shared/domain/tenant-storage-role.js';
import { ACCOUNT, L1 as LOCATION, T1, T2, U1 } from '../../support/fixed-ids.js';

const BUCKET = 'strongroom-prod-storage';
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const ISSUED = '2026-11-22T10:00:00Z';
const REGION = 'eu-west-1';
const STORAGE_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000001`;
const PLATFORM_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000002`;
const OTHER_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7c2f7e-0000-4000-8000-000000000003`;
const VIA_S3 = `s3.${REGION}.amazonaws.com`;
const LAYOUT = tenantStorageLayout({
  stage: 'prod',
  region: REGION,
  boundaryArn: `arn:aws:iam::${ACCOUNT}:policy/strongroom-prod-${REGION}-tenant-storage-boundary`,
});
/** The boundary every tenant storage role carries (the stateful stack's managed policy). */
const BOUNDARY = tenantStorageBoundaryPolicy({
  bucketArn: BUCKET_ARN,
  storageKeyArn: STORAGE_KEY,
  layout: LAYOUT,
});
/** A tenant's storage role's own inline grant. */
const grantOf = (tenantId: string) => ({
  name: 'storage',
  policy: tenantStorageRolePolicy({ tenantId, bucketArn: BUCKET_ARN, storageKeyArn: STORAGE_KEY }),
});
const roleOf = (tenantId: string) => tenantStorageRoleArn(LAYOUT, tenantId);
const sessionOf = (tenantId: string, userId: string) =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/storage-${tenantId}/${tenantId}-${userId}`;

type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

interface S3Probe {
  action: string;
  bucket: string;
  /** Object key, or undefined for a bucket-level action. */
  key?: string;
  /** `s3:prefix` of a ListBucket; undefined means the request has none. */
  listPrefix?: string;
}

/** A KMS request as the session would make it: through S3 (`viaService`), or directly (none). */
interface KmsProbe {
  action: string;
  keyArn: string;
  viaService?: string;
}

type Probe = S3Probe | KmsProbe;

/** A key policy that lets the key's own account decide with IAM policies (CDK's default key policy). */
const accountKeyPolicy = (account: string) => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
  ],
});

interface SessionSetup {
  sessionPolicy: PolicyDocument;
  identityPolicies: { name: string; policy: unknown }[];
  /** The role's permissions boundary, if it has one. */
  boundary?: PolicyDocument;
  /**
   * The resource's own policy. KMS probes default to the key policy CDK gives the platform's keys (the key
   * owner's account may use it as its IAM policies allow; test/infra asserts that shape).
   */
  resourcePolicy?: unknown;
  tags: Record<string, string>;
  issued?: string;
  /** @default T1's storage role's session */
  principal?: string;
  /** `aws:PrincipalArn` (the role's ARN; the simulator does not derive it). @default T1's storage role */
  principalArn?: string;
}

async function decide(setup: SessionSetup, probe: Probe): Promise<Decision> {
  const context: Record<string, string> = {
    'aws:TokenIssueTime': setup.issued ?? ISSUED,
    'aws:PrincipalArn': setup.principalArn ?? roleOf(T1),
  };
  for (const [k, v] of Object.entries(setup.tags)) context[`aws:PrincipalTag/${k}`] = v;
  let resource: string;
  let resourcePolicy = setup.resourcePolicy;
  if ('keyArn' in probe) {
    resource = probe.keyArn;
    if (probe.viaService !== undefined) context['kms:ViaService'] = probe.viaService;
    resourcePolicy ??= accountKeyPolicy(probe.keyArn.split(':')[4]!);
  } else {
    if (probe.listPrefix !== undefined) context['s3:prefix'] = probe.listPrefix;
    resource =
      probe.key === undefined ? `arn:aws:s3:::${probe.bucket}` : `arn:aws:s3:::${probe.bucket}/${probe.key}`;
  }
  const response = await runSimulation(
    {
      request: {
        principal: setup.principal ?? sessionOf(T1, U1),
        action: probe.action,
        resource: { resource, accountId: resource.split(':')[4] || ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: setup.identityPolicies,
      sessionPolicy: setup.sessionPolicy,
      ...(setup.boundary
        ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: setup.boundary }] }
        : {}),
      ...(resourcePolicy ? { resourcePolicy } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`simulation failed: ${JSON.stringify(response)}`);
  return response.overallResult as Decision;
}

/** Every object action a vend may grant, and list. */
const OBJECT_ACTIONS = [...READ_OBJECT_ACTIONS, ...WRITE_OBJECT_ACTIONS];
const isWriteAction = (a: string) => (WRITE_OBJECT_ACTIONS as readonly string[]).includes(a);

/** The places a credential is tried against: only `own` may ever be allowed. */
function targets(bucket: string, prefix: string, otherTenantPrefix: string) {
  return {
    own: [
      ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}/file.csv` })),
      ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}/deep/er/part-0001.parquet` })),
      { action: 's3:ListBucket', bucket, listPrefix: `${prefix}/` },
      { action: 's3:ListBucket', bucket, listPrefix: `${prefix}/deep/` },
    ],
    denied: {
      sibling: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}2/file.csv` })),
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${prefix}` })),
        { action: 's3:ListBucket', bucket, listPrefix: `${prefix}2/` },
        // No slash: S3 would also list `data2/…`.
        { action: 's3:ListBucket', bucket, listPrefix: prefix },
      ],
      otherTenant: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: `${otherTenantPrefix}/file.csv` })),
        { action: 's3:ListBucket', bucket, listPrefix: `${otherTenantPrefix}/` },
      ],
      bucketRoot: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket, key: 'file.csv' })),
        { action: 's3:ListBucket', bucket },
        { action: 's3:ListBucket', bucket, listPrefix: '' },
        { action: 's3:ListBucketVersions', bucket, listPrefix: `${prefix}/` },
        { action: 's3:ListBucketMultipartUploads', bucket },
        { action: 's3:DeleteObjectVersion', bucket, key: `${prefix}/file.csv` },
        { action: 's3:PutObjectAcl', bucket, key: `${prefix}/file.csv` },
        { action: 's3:PutBucketPolicy', bucket },
      ],
      otherBucket: [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket: 'another-bucket', key: `${prefix}/file.csv` })),
        { action: 's3:ListBucket', bucket: 'another-bucket', listPrefix: `${prefix}/` },
      ],
    },
  };
}

describe('managed storage: session policy × the tenant role’s grant and boundary × tags', () => {
  const root = managedRoot(BUCKET, T1, 'data');
  const other = managedRoot(BUCKET, T2, 'data');
  const rolePolicy = grantOf(T1);

  for (const role of ROLES) {
    for (const access of STORAGE_ACCESS) {
      const vends = roleHas(role, permissionForAccess(access));
      it(`${role} asking for ${access}: ${vends ? 'allowed exactly on its own prefix' : 'refused'}`, async () => {
        // Prepare
        const expectedVend = access === 'read' || ['editor', 'admin', 'owner'].includes(role);
        // Assess (the permission table decides who gets a credential at all)
        expect(vends).toBe(expectedVend);
        if (!vends) return;
        const setup: SessionSetup = {
          sessionPolicy: sessionPolicyFor({ ...root, access, kmsKeyArn: STORAGE_KEY }),
          identityPolicies: [rolePolicy],
          boundary: BOUNDARY,
          tags: { TenantId: T1, UserId: U1, Access: access, LocationId: LOCATION },
        };
        const t = targets(BUCKET, root.prefix, other.prefix);

        // Act
        const own = await Promise.all(t.own.map(async (p) => [p, await decide(setup, p)] as const));
        const denied = await Promise.all(
          Object.values(t.denied)
            .flat()
            .map(async (p) => [p, await decide(setup, p)] as const),
        );

        // Assess
        for (const [probe, decision] of own) {
          const want = access === 'read' && isWriteAction(probe.action) ? 'ImplicitlyDenied' : 'Allowed';
          expect({ probe, decision }).toEqual({ probe, decision: want });
        }
        for (const [probe, decision] of denied)
          expect({ probe, decision }).not.toEqual({ probe, decision: 'Allowed' });
      });
    }
  }

  it('a session policy naming another tenant prefix still reaches nothing: the role grants its own tenant only', async () => {
    // Prepare: an application bug hands T1's user a session policy for T2's root
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ ...other, access: 'write' }),
      identityPolicies: [rolePolicy],
      boundary: BOUNDARY,
      tags: { TenantId: T1, UserId: U1, Access: 'write', LocationId: LOCATION },
    };
    // Act
    const decisions = await Promise.all(
      [
        ...OBJECT_ACTIONS.map((action) => ({ action, bucket: BUCKET, key: `${other.prefix}/file.csv` })),
        { action: 's3:ListBucket', bucket: BUCKET, listPrefix: `${other.prefix}/` },
      ].map((p) => decide(setup, p)),
    );
    // Assess
    expect(new Set(decisions)).toEqual(new Set(['ImplicitlyDenied']));
  });

  it('a read-tagged session cannot write even under a write session policy', async () => {
    // Prepare: a read-tagged session under a write session policy
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ ...root, access: 'write' }),
      identityPolicies: [rolePolicy],
      boundary: BOUNDARY,
      tags: { TenantId: T1, UserId: U1, Access: 'read', LocationId: LOCATION },
    };

    // Act / Assess: every write refused, a read allowed
    const decisions = await Promise.all(
      WRITE_OBJECT_ACTIONS.map((action) =>
        decide(setup, { action, bucket: BUCKET, key: `${root.prefix}/x` }),
      ),
    );
    expect(new Set(decisions)).toEqual(new Set(['ImplicitlyDenied']));
    expect(await decide(setup, { action: 's3:GetObject', bucket: BUCKET, key: `${root.prefix}/x` })).toBe(
      'Allowed',
    );
  });

  it('a session missing any of its four tags is denied outright', async () => {
    // Prepare
    const full = { TenantId: T1, UserId: U1, Access: 'write', LocationId: LOCATION };

    // Act / Assess: without each tag, and without any
    for (const missing of [undefined, ...Object.keys(full)]) {
      const tags: Record<string, string> = { ...full };
      if (missing) delete tags[missing];
      const setup: SessionSetup = {
        sessionPolicy: sessionPolicyFor({ ...root, access: 'write' }),
        identityPolicies: [rolePolicy],
        boundary: BOUNDARY,
        tags: missing ? tags : {},
      };
      expect(
        await decide(setup, { action: 's3:GetObject', bucket: BUCKET, key: `${root.prefix}/x` }),
        `without ${missing ?? 'any tag'}`,
      ).toBe('ExplicitlyDenied');
    }
  });
});

describe('managed storage: the bucket key (SSE-KMS), only through S3', () => {
  const root = managedRoot(BUCKET, T1, 'data');
  const rolePolicy = grantOf(T1);
  const session = (access: StorageAccess, overrides: Partial<SessionSetup> = {}): SessionSetup => ({
    sessionPolicy: sessionPolicyFor({ ...root, access, kmsKeyArn: STORAGE_KEY }),
    identityPolicies: [rolePolicy],
    boundary: BOUNDARY,
    tags: { TenantId: T1, UserId: U1, Access: access, LocationId: LOCATION },
    ...overrides,
  });
  const USE = [...STORAGE_KEY_READ_ACTIONS, ...STORAGE_KEY_WRITE_ACTIONS];
  const decideAll = (setup: SessionSetup, probes: KmsProbe[]) =>
    Promise.all(probes.map(async (probe) => ({ probe, decision: await decide(setup, probe) })));

  it('a read session may have S3 decrypt with the storage key, and not generate data keys', async () => {
    // Act
    const decrypt = await decide(session('read'), {
      action: 'kms:Decrypt',
      keyArn: STORAGE_KEY,
      viaService: VIA_S3,
    });
    const generate = await decide(session('read'), {
      action: 'kms:GenerateDataKey',
      keyArn: STORAGE_KEY,
      viaService: VIA_S3,
    });
    // Assess
    expect([decrypt, generate]).toEqual(['Allowed', 'ImplicitlyDenied']);
  });

  it('a write session may have S3 decrypt with it (objects written before tenant keys), never generate data keys: new objects go under the tenant key', async () => {
    // Act
    const decisions = await decideAll(
      session('write'),
      USE.map((action) => ({ action, keyArn: STORAGE_KEY, viaService: VIA_S3 })),
    );

    // Assess: the role and the boundary no longer grant GenerateDataKey on the storage key
    expect(decisions.map((d) => d.decision)).toEqual(['Allowed', 'ImplicitlyDenied']);
  });

  for (const access of STORAGE_ACCESS) {
    it(`${access}: never the storage key directly, through another service or through S3 of another region`, async () => {
      // Prepare
      const probes = USE.flatMap((action) =>
        [
          undefined,
          `dynamodb.${REGION}.amazonaws.com`,
          `secretsmanager.${REGION}.amazonaws.com`,
          's3.us-east-1.amazonaws.com',
          `s3-object-lambda.${REGION}.amazonaws.com`,
        ].map((viaService) => ({ action, keyArn: STORAGE_KEY, ...(viaService ? { viaService } : {}) })),
      );
      // Act
      const decisions = await decideAll(session(access), probes);
      // Assess
      for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
    });

    it(`${access}: never the platform key or any other key, not even through S3`, async () => {
      // Prepare: the platform key, another key, and the storage key's id in another account and region
      const keys = [
        PLATFORM_KEY,
        OTHER_KEY,
        // The same key id in another account or region is another key.
        STORAGE_KEY.replace(ACCOUNT, '210987654321'),
        STORAGE_KEY.replace(REGION, 'us-east-1'),
      ];

      // Act
      const decisions = await decideAll(
        session(access),
        keys.flatMap((keyArn) =>
          USE.map((action) => ({
            action,
            keyArn,
            viaService: `s3.${keyArn.split(':')[3]}.amazonaws.com`,
          })),
        ),
      );

      // Assess
      for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
    });

    it(`${access}: no other KMS action on the storage key, even through S3`, async () => {
      // Prepare
      const others = [
        'kms:Encrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:GenerateDataKeyPair',
        'kms:CreateGrant',
        'kms:DescribeKey',
        'kms:PutKeyPolicy',
        'kms:DisableKey',
        'kms:ScheduleKeyDeletion',
      ];

      // Act
      const decisions = await decideAll(
        session(access),
        others.map((action) => ({ action, keyArn: STORAGE_KEY, viaService: VIA_S3 })),
      );

      // Assess
      for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
    });
  }

  it('a read-tagged session cannot have S3 generate data keys even under a write session policy', async () => {
    // Prepare: a read-tagged session under a write session policy
    const setup = session('write', {
      tags: { TenantId: T1, UserId: U1, Access: 'read', LocationId: LOCATION },
    });

    // Act / Assess: no data key, but decryption
    expect(
      await decide(setup, { action: 'kms:GenerateDataKey', keyArn: STORAGE_KEY, viaService: VIA_S3 }),
    ).toBe('ImplicitlyDenied');
    expect(await decide(setup, { action: 'kms:Decrypt', keyArn: STORAGE_KEY, viaService: VIA_S3 })).toBe(
      'Allowed',
    );
  });

  it('a session policy naming the platform key (an application bug) reaches no key: role and boundary name only the storage key', async () => {
    // Prepare: a session policy naming the platform key
    const setup = session('write', {
      sessionPolicy: sessionPolicyFor({ ...root, access: 'write', kmsKeyArn: PLATFORM_KEY }),
    });

    // Act
    const decisions = await decideAll(
      setup,
      [PLATFORM_KEY, STORAGE_KEY].flatMap((keyArn) =>
        USE.map((action) => ({ action, keyArn, viaService: VIA_S3 })),
      ),
    );

    // Assess
    for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
  });

  it('the permissions boundary admits the storage key through S3 for decryption only and caps a widened inline policy', async () => {
    // Prepare: an inline policy (the function may write the role's inline policies) that allows any KMS use
    const widened = {
      name: 'widened',
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
    };
    const everything: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }],
    };
    const setup = session('write', { identityPolicies: [widened], sessionPolicy: everything });
    // Act
    const viaS3 = await decideAll(
      setup,
      USE.map((action) => ({ action, keyArn: STORAGE_KEY, viaService: VIA_S3 })),
    );
    const elsewhere = await decideAll(setup, [
      ...USE.map((action) => ({ action, keyArn: STORAGE_KEY })),
      ...USE.map((action) => ({ action, keyArn: PLATFORM_KEY, viaService: VIA_S3 })),
      { action: 'kms:CreateGrant', keyArn: STORAGE_KEY, viaService: VIA_S3 },
    ]);
    // Assess
    expect(viaS3.map((d) => d.decision)).toEqual(['Allowed', 'ImplicitlyDenied']);
    for (const d of elsewhere) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
  });

  it('a session without tags is denied the key outright', async () => {
    // Act / Assess: no tags, and all tags but UserId
    for (const tags of [{}, { TenantId: T1, Access: 'write', LocationId: LOCATION }] as Record<
      string,
      string
    >[]) {
      const decisions = await decideAll(
        session('write', { tags }),
        USE.map((action) => ({ action, keyArn: STORAGE_KEY, viaService: VIA_S3 })),
      );
      expect(decisions.map((d) => d.decision)).toEqual(['ExplicitlyDenied', 'ExplicitlyDenied']);
    }
  });
});

describe('external storage: the session policy alone scopes a broad customer role', () => {
  const customerRole = {
    name: 'customer-role',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] },
  };
  const root = { bucket: 'customer-lake', prefix: 'data' };

  for (const access of STORAGE_ACCESS) {
    it(`${access}: allowed on data/, never on data2/, the bucket root or another bucket`, async () => {
      // Prepare: a customer role and a session rooted at data/
      const setup: SessionSetup = {
        sessionPolicy: sessionPolicyFor({ ...root, access }),
        identityPolicies: [customerRole],
        tags: { TenantId: T1, UserId: U1, Access: access },
      };

      // Act: its own targets and the ones beside it
      const t = targets(root.bucket, root.prefix, 'other-team');
      const own = await Promise.all(t.own.map(async (p) => [p, await decide(setup, p)] as const));
      const denied = await Promise.all(
        Object.values(t.denied)
          .flat()
          .map(async (p) => [p, await decide(setup, p)] as const),
      );

      // Assess: its own allowed (reads only for read), every other one denied
      for (const [probe, decision] of own) {
        const want = access === 'read' && isWriteAction(probe.action) ? 'ImplicitlyDenied' : 'Allowed';
        expect({ probe, decision }).toEqual({ probe, decision: want });
      }
      for (const [probe, decision] of denied)
        expect({ probe, decision }).toEqual({ probe, decision: 'ImplicitlyDenied' });
    });
  }

  for (const access of STORAGE_ACCESS) {
    it(`${access}: the session policy grants no KMS, not even a key the customer's role and key policy allow`, async () => {
      // Prepare: the customer's role may use any key, and their key policy names that role
      const customerAccount = '210987654321';
      const customerKey = `arn:aws:kms:${REGION}:${customerAccount}:key/0b7c2f7e-0000-4000-8000-00000000000c`;
      const customerRoleArn = `arn:aws:iam::${customerAccount}:role/strongroom-access`;
      const sessionPolicy = sessionPolicyFor({ ...root, access });
      const setup: SessionSetup = {
        sessionPolicy,
        identityPolicies: [
          {
            name: 'customer-role',
            policy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }],
            },
          },
        ],
        resourcePolicy: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: customerRoleArn }, Action: 'kms:*', Resource: '*' },
          ],
        },
        principal: `arn:aws:sts::${customerAccount}:assumed-role/strongroom-access/${T1}-${U1}`,
        tags: { TenantId: T1, UserId: U1, Access: access },
      };
      // Act
      const decisions = await Promise.all(
        [customerKey, STORAGE_KEY, PLATFORM_KEY].flatMap((keyArn) =>
          ['kms:Decrypt', 'kms:GenerateDataKey'].map(async (action) => {
            const probe = { action, keyArn, viaService: VIA_S3 };
            return { probe, decision: await decide(setup, probe) };
          }),
        ),
      );
      // Assess
      expect(JSON.stringify(sessionPolicy)).not.toContain('kms:');
      for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
    });
  }

  it('a whole-bucket root grants that bucket and nothing else', async () => {
    // Prepare: a read session over a whole bucket
    const setup: SessionSetup = {
      sessionPolicy: sessionPolicyFor({ bucket: 'customer-lake', prefix: '', access: 'read' }),
      identityPolicies: [customerRole],
      tags: { TenantId: T1, UserId: U1, Access: 'read' },
    };

    // Act / Assess
    expect(await decide(setup, { action: 's3:GetObject', bucket: 'customer-lake', key: 'any/key' })).toBe(
      'Allowed',
    );
    expect(await decide(setup, { action: 's3:ListBucket', bucket: 'customer-lake' })).toBe('Allowed');
    expect(await decide(setup, { action: 's3:PutObject', bucket: 'customer-lake', key: 'any/key' })).toBe(
      'ImplicitlyDenied',
    );
    expect(await decide(setup, { action: 's3:GetObject', bucket: 'customer-lake2', key: 'any/key' })).toBe(
      'ImplicitlyDenied',
    );
  });
});

describe('external storage on SSE-KMS: the registered keys, only through S3 in the bucket’s region', () => {
  // Prepare: a customer whose role and key policies allow everything, so only the session policy decides
  const customerAccount = '210987654321';
  const customerKey = (n: number) =>
    `arn:aws:kms:${REGION}:${customerAccount}:key/0b7c2f7e-0000-4000-8000-0000000000c${n}`;
  const current = customerKey(1);
  const previous = [customerKey(2), customerKey(3)];
  const unregistered = customerKey(9);
  const customerRoleArn = `arn:aws:iam::${customerAccount}:role/strongroom-access`;
  const root = { bucket: 'customer-lake', prefix: 'data' };
  const setupFor = (access: StorageAccess): SessionSetup => ({
    sessionPolicy: sessionPolicyFor({ ...root, access, kmsKeyArn: current, previousKmsKeyArns: previous }),
    identityPolicies: [
      {
        name: 'customer-role',
        policy: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }],
        },
      },
    ],
    resourcePolicy: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: customerRoleArn }, Action: 'kms:*', Resource: '*' }],
    },
    principal: `arn:aws:sts::${customerAccount}:assumed-role/strongroom-access/${T1}.u${U1}.v_000000000`,
    tags: { TenantId: T1, UserId: U1, Access: access },
  });

  for (const access of STORAGE_ACCESS) {
    it(`${access}: S3 may decrypt with the current and every previous key, and generate data keys ${access === 'write' ? 'with the current key only' : 'with none'}`, async () => {
      // Act
      const decisions = await Promise.all(
        [current, ...previous, unregistered].flatMap((keyArn) =>
          ['kms:Decrypt', 'kms:GenerateDataKey'].map(async (action) => {
            const probe = { action, keyArn, viaService: VIA_S3 };
            return { probe, decision: await decide(setupFor(access), probe) };
          }),
        ),
      );
      // Assess
      const want = (keyArn: string, action: string): Decision =>
        keyArn === unregistered
          ? 'ImplicitlyDenied'
          : action === 'kms:Decrypt'
            ? 'Allowed'
            : access === 'write' && keyArn === current
              ? 'Allowed'
              : 'ImplicitlyDenied';
      for (const d of decisions)
        expect(d).toEqual({ probe: d.probe, decision: want(d.probe.keyArn, d.probe.action) });
    });

    it(`${access}: no key directly, through another service, through S3 of another region, or for another KMS action`, async () => {
      const probes: KmsProbe[] = [current, ...previous].flatMap((keyArn) => [
        { action: 'kms:Decrypt', keyArn },
        { action: 'kms:Decrypt', keyArn, viaService: 'dynamodb.eu-west-1.amazonaws.com' },
        { action: 'kms:Decrypt', keyArn, viaService: 's3.us-east-1.amazonaws.com' },
        { action: 'kms:GenerateDataKey', keyArn, viaService: 's3.us-east-1.amazonaws.com' },
        ...[
          'kms:Encrypt',
          'kms:ReEncryptFrom',
          'kms:CreateGrant',
          'kms:DescribeKey',
          'kms:ScheduleKeyDeletion',
        ].map((action) => ({ action, keyArn, viaService: VIA_S3 })),
      ]);
      // Act
      const decisions = await Promise.all(
        probes.map(async (probe) => ({ probe, decision: await decide(setupFor(access), probe) })),
      );
      // Assess
      for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
    });
  }

  it('keys change nothing about where the session reaches in S3', async () => {
    // Prepare
    const t = targets(root.bucket, root.prefix, 'other-team');
    const denied = Object.values(t.denied).flat();

    // Act
    const decisions = await Promise.all(
      denied.map(async (probe) => ({ probe, decision: await decide(setupFor('write'), probe) })),
    );

    // Assess
    for (const d of decisions) expect(d).toEqual({ probe: d.probe, decision: 'ImplicitlyDenied' });
  });
});
