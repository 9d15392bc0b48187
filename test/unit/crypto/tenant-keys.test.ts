import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
  KMSInvalidStateException,
  ListResourceTagsCommand,
  NotFoundException,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FunctionRuntime } from '../../../shared/aws/runtime.js';
import {
  KmsTenantKeys,
  NotATenantKeyError,
  parseKmsKeyArn,
  tenantKeysFor,
} from '../../../shared/crypto/tenant-keys.js';
import { KeyPolicyInputError, tenantKeyPolicy } from '../../../shared/domain/key-policy.js';
import { isTransientAwsError } from '../../../shared/errors.js';
import { kmsThrottling } from '../../support/aws-faults.js';

const ACCOUNT = '111122223333';
const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/${KEY_ID}`;
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-connections`;

const kmsMock = mockClient(KMSClient);

function keys() {
  return new KmsTenantKeys({
    kms: new KMSClient({ region: 'eu-central-1' }),
    stage: 'dev',
    accountId: ACCOUNT,
    partition: 'aws',
    applicationRoleArns: [APP_ROLE],
  });
}

const invalidState = () => new KMSInvalidStateException({ message: 'pending deletion', $metadata: {} });

beforeEach(() => {
  kmsMock.reset();
  kmsMock.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, Arn: KEY_ARN } });
  kmsMock.on(EnableKeyRotationCommand).resolves({});
  kmsMock.on(CreateAliasCommand).resolves({});
  kmsMock.on(DisableKeyCommand).resolves({});
  kmsMock.on(ScheduleKeyDeletionCommand).resolves({});
});

describe('KmsTenantKeys.create', () => {
  it('creates a key with the one policy, the tenant tags, rotation and the alias', async () => {
    // Act
    const result = await keys().create(TENANT);

    // Assess
    expect(result).toEqual({ keyArn: KEY_ARN });
    const expectedPolicy = tenantKeyPolicy({
      accountId: ACCOUNT,
      partition: 'aws',
      tenantId: TENANT,
      applicationRoleArns: [APP_ROLE],
      adminRoleArns: [],
    });
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(CreateKeyCommand, {
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Policy: JSON.stringify(expectedPolicy),
      Tags: [
        { TagKey: 'tenantId', TagValue: TENANT },
        { TagKey: 'strongroom:stage', TagValue: 'dev' },
      ],
      BypassPolicyLockoutSafetyCheck: true,
    });
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(EnableKeyRotationCommand, { KeyId: KEY_ID });
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(CreateAliasCommand, {
      AliasName: `alias/strongroom/dev/tenant/${TENANT}`,
      TargetKeyId: KEY_ID,
    });
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
    expect(kmsMock).not.toHaveReceivedCommand(ScheduleKeyDeletionCommand);
  });

  it('creates nothing when the policy input is invalid', async () => {
    // Prepare: a wildcard application role
    const bad = new KmsTenantKeys({
      kms: new KMSClient({ region: 'eu-central-1' }),
      stage: 'dev',
      accountId: ACCOUNT,
      partition: 'aws',
      applicationRoleArns: ['*'],
    });

    // Act / Assess
    await expect(bad.create(TENANT)).rejects.toBeInstanceOf(KeyPolicyInputError);

    // Assess: no KMS call
    expect(kmsMock).not.toHaveReceivedAnyCommand();
  });

  it('leaves nothing behind when CreateKey itself fails (throttled → transient)', async () => {
    // Prepare: KMS throttles CreateKey
    kmsMock.on(CreateKeyCommand).rejects(kmsThrottling());

    // Act
    const error = await keys()
      .create(TENANT)
      .catch((e: unknown) => e);

    // Assess: a transient error, and no step after CreateKey
    expect(isTransientAwsError(error)).toBe(true);
    expect(kmsMock).toHaveReceivedCommandTimes(CreateKeyCommand, 1);
    expect(kmsMock).not.toHaveReceivedCommand(EnableKeyRotationCommand);
    expect(kmsMock).not.toHaveReceivedCommand(CreateAliasCommand);
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
  });

  it.each([
    ['EnableKeyRotation', EnableKeyRotationCommand],
    ['CreateAlias', CreateAliasCommand],
  ] as const)(
    'disables and schedules deletion of the half-made key when %s fails, then rethrows',
    async (_name, command) => {
      // Prepare
      const failure = kmsThrottling();
      kmsMock.on(command as typeof CreateAliasCommand).rejects(failure);

      // Act
      const error = await keys()
        .create(TENANT)
        .catch((e: unknown) => e);

      // Assess: the original error (a throttle: the tenant route answers 503), and the key is disabled and pending deletion.
      expect(error).toBe(failure);
      expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(DisableKeyCommand, { KeyId: KEY_ID });
      expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(ScheduleKeyDeletionCommand, {
        KeyId: KEY_ID,
        PendingWindowInDays: 7,
      });
      const calls = kmsMock.calls().map((c) => c.args[0].constructor.name);
      expect(calls.indexOf('DisableKeyCommand')).toBeLessThan(calls.indexOf('ScheduleKeyDeletionCommand'));
      if (command === EnableKeyRotationCommand) expect(kmsMock).not.toHaveReceivedCommand(CreateAliasCommand);
    },
  );

  it('still schedules deletion when disabling the half-made key fails, and rethrows the original error', async () => {
    // Prepare: the alias fails, and so does disabling the key
    const failure = new Error('alias conflict');
    kmsMock.on(CreateAliasCommand).rejects(failure);
    kmsMock.on(DisableKeyCommand).rejects(kmsThrottling());

    // Act / Assess
    await expect(keys().create(TENANT)).rejects.toBe(failure);

    // Assess: deletion scheduled anyway
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(ScheduleKeyDeletionCommand, {
      KeyId: KEY_ID,
      PendingWindowInDays: 7,
    });
  });

  it('rethrows the original error even when the key cannot be discarded at all', async () => {
    // Prepare: rotation fails, and so does every clean-up step
    const failure = new Error('rotation refused');
    kmsMock.on(EnableKeyRotationCommand).rejects(failure);
    kmsMock.on(DisableKeyCommand).rejects(kmsThrottling());
    kmsMock.on(ScheduleKeyDeletionCommand).rejects(kmsThrottling());

    // Act / Assess
    await expect(keys().create(TENANT)).rejects.toBe(failure);

    // Assess: each clean-up step tried once
    expect(kmsMock).toHaveReceivedCommandTimes(DisableKeyCommand, 1);
    expect(kmsMock).toHaveReceivedCommandTimes(ScheduleKeyDeletionCommand, 1);
  });

  it('discards a key when CreateKey answers without an ARN', async () => {
    // Prepare: CreateKey answers without an ARN
    kmsMock.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID } as never });

    // Act / Assess
    await expect(keys().create(TENANT)).rejects.toThrow('no key id');

    // Assess: the key scheduled for deletion, no alias
    expect(kmsMock).toHaveReceivedCommandWith(ScheduleKeyDeletionCommand, { KeyId: KEY_ID });
    expect(kmsMock).not.toHaveReceivedCommand(CreateAliasCommand);
  });
});

describe('KmsTenantKeys.retire', () => {
  const tenantTags = {
    Tags: [
      { TagKey: 'tenantId', TagValue: TENANT },
      { TagKey: 'strongroom:stage', TagValue: 'dev' },
    ],
  };

  it('disables an enabled key and schedules its deletion in 30 days', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'Enabled' } });

    // Act
    await keys().retire(KEY_ARN);

    // Assess
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(DisableKeyCommand, { KeyId: KEY_ID });
    expect(kmsMock).toHaveReceivedCommandExactlyOnceWith(ScheduleKeyDeletionCommand, {
      KeyId: KEY_ID,
      PendingWindowInDays: 30,
    });
  });

  it('is idempotent: a key already pending deletion is left as it is', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'PendingDeletion' } });

    // Act
    await keys().retire(KEY_ARN);

    // Assess
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
    expect(kmsMock).not.toHaveReceivedCommand(ScheduleKeyDeletionCommand);
  });

  it('schedules deletion of a key already disabled without disabling it again', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'Disabled' } });

    // Act
    await keys().retire(KEY_ARN);

    // Assess
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
    expect(kmsMock).toHaveReceivedCommandTimes(ScheduleKeyDeletionCommand, 1);
  });

  it('checks a key without changing it, and retires a checked key with the two changing steps only', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'Enabled' } });

    // Act
    const checked = await keys().checkRetirable(KEY_ARN);

    // Assess: read only
    expect(checked).toEqual({ keyArn: KEY_ARN, keyId: KEY_ID, state: 'Enabled' });
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);

    // Act: retired as checked
    kmsMock.resetHistory();
    await keys().retire(checked);

    // Assess: no second check
    expect(kmsMock.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'DisableKeyCommand',
      'ScheduleKeyDeletionCommand',
    ]);
  });

  it('refuses to check the platform key or another stage’s as retirable', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'strongroom:stage', TagValue: 'dev' }] });

    // Act / Assess
    await expect(keys().checkRetirable(KEY_ARN)).rejects.toThrow('not a tenant key');
    expect(kmsMock).not.toHaveReceivedCommand(DescribeKeyCommand);
  });

  it('treats a key that no longer exists as retired', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).rejects(new NotFoundException({ message: 'gone', $metadata: {} }));

    // Act
    await keys().retire(KEY_ARN);

    // Assess
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
    expect(kmsMock).not.toHaveReceivedCommand(ScheduleKeyDeletionCommand);
  });

  it('accepts losing a race to another retire', async () => {
    // Prepare: another retire schedules the deletion between our read and ours
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock
      .on(DescribeKeyCommand)
      .resolvesOnce({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'Enabled' } })
      .resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'PendingDeletion' } });
    kmsMock.on(ScheduleKeyDeletionCommand).rejects(invalidState());

    // Act / Assess
    await expect(keys().retire(KEY_ARN)).resolves.toBeUndefined();
  });

  it('surfaces an invalid state that is not pending deletion', async () => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves(tenantTags);
    kmsMock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KEY_ID, KeyState: 'Enabled' } });
    kmsMock.on(ScheduleKeyDeletionCommand).rejects(invalidState());

    // Act / Assess
    await expect(keys().retire(KEY_ARN)).rejects.toBeInstanceOf(KMSInvalidStateException);
  });

  it.each([
    ['the platform key (no tenant tag)', [{ TagKey: 'app', TagValue: 'strongroom' }]],
    [
      "another stage's tenant key",
      [
        { TagKey: 'tenantId', TagValue: TENANT },
        { TagKey: 'strongroom:stage', TagValue: 'prod' },
      ],
    ],
  ])('refuses to retire %s', async (_name, tags) => {
    // Prepare
    kmsMock.on(ListResourceTagsCommand).resolves({ Tags: tags });

    // Act / Assess
    await expect(keys().retire(KEY_ARN)).rejects.toBeInstanceOf(NotATenantKeyError);

    // Assess: nothing disabled or scheduled
    expect(kmsMock).not.toHaveReceivedCommand(DisableKeyCommand);
    expect(kmsMock).not.toHaveReceivedCommand(ScheduleKeyDeletionCommand);
  });
});

describe('tenantKeysFor', () => {
  const env = {
    PLATFORM_KEY_ARN: KEY_ARN,
    STAGE: 'dev',
    TENANT_KEY_USER_ROLE_ARNS: `${APP_ROLE}, arn:aws:iam::${ACCOUNT}:role/strongroom-query`,
  };

  it('takes account and partition from the platform key and the roles from the environment', async () => {
    // Act
    await tenantKeysFor(new FunctionRuntime(env)).create(TENANT);

    // Assess
    const policy = JSON.parse(String(kmsMock.commandCalls(CreateKeyCommand)[0]!.args[0].input.Policy));
    expect(policy.Statement[1].Condition.ArnEquals['aws:PrincipalArn']).toEqual([
      APP_ROLE,
      `arn:aws:iam::${ACCOUNT}:role/strongroom-query`,
    ]);
    expect(policy.Statement[0].Principal.AWS).toBe(`arn:aws:iam::${ACCOUNT}:root`);
  });

  it('refuses to start without the application roles', () => {
    // Act / Assess
    expect(() => tenantKeysFor(new FunctionRuntime({ ...env, TENANT_KEY_USER_ROLE_ARNS: ' , ' }))).toThrow(
      'TENANT_KEY_USER_ROLE_ARNS',
    );
  });

  it('parses KMS key ARNs strictly', () => {
    // Act / Assess
    expect(parseKmsKeyArn(KEY_ARN)).toEqual({ partition: 'aws', region: 'eu-central-1', accountId: ACCOUNT });
    expect(() => parseKmsKeyArn('alias/x')).toThrow('Not a KMS key ARN');
  });
});
