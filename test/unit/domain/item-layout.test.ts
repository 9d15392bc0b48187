import { describe, expect, it } from 'vitest';
import {
  ACCESS_ITEM_SK_PREFIXES,
  apiKeySk,
  connectionSk,
  emailKey,
  IDENTITY_PK_PREFIXES,
  instanceNameSk,
  instanceSk,
  invitationSk,
  inviteeGsiPk,
  knownDeviceKey,
  locationSk,
  mailTokenKey,
  memberSk,
  membershipGsiKey,
  noUserKey,
  oidcFlowKey,
  oidcIdentityKey,
  passkeyChallengeKey,
  passkeyKey,
  rateWindowKey,
  rateWindowPk,
  STORAGE_ACCESS_SK,
  STORAGE_EXTERNAL_ID_SK,
  sessionGsiKey,
  sessionKey,
  signInKey,
  stepUpKey,
  storageHolderSk,
  storageNodeKey,
  TENANT_SK,
  tenantItemKind,
  userKey,
} from '../../../shared/domain/item-layout.js';

describe('the DynamoDB item layout', () => {
  it('keeps the keys of stored items exactly as written (data and IAM LeadingKeys depend on them)', () => {
    // Act / Assess
    expect([TENANT_SK, memberSk('u_1'), apiKeySk('k_1'), invitationSk('i_1'), connectionSk('c_1')]).toEqual([
      'TENANT',
      'MEMBER#u_1',
      'APIKEY#k_1',
      'INVITE#i_1',
      'CONNECTION#c_1',
    ]);
    expect([locationSk('l_1'), instanceSk('n_1'), instanceNameSk('lab')]).toEqual([
      'LOCATION#l_1',
      'INSTANCE#n_1',
      'INSTANCE-NAME#lab',
    ]);
    expect([STORAGE_EXTERNAL_ID_SK, STORAGE_ACCESS_SK, storageHolderSk('u_1')]).toEqual([
      'STORAGE-EXTERNAL-ID',
      'STORAGE-ACCESS',
      'STORAGE-HOLDER#u_1',
    ]);
    expect(membershipGsiKey('u_1', 't_1')).toEqual({ gsi1pk: 'USER#u_1', gsi1sk: 'TENANT#t_1' });
    expect(inviteeGsiPk('a@example.com')).toBe('INVITEE#a@example.com');
    expect(userKey('u_1')).toEqual({ pk: 'USER#u_1', sk: 'PROFILE' });
    expect(emailKey('a@example.com')).toEqual({ pk: 'EMAIL#a@example.com', sk: 'EMAIL' });
    expect(sessionKey('s_1')).toEqual({ pk: 'SESSION#s_1', sk: 'SESSION' });
    expect(signInKey('u_1', '01jx')).toEqual({ pk: 'USER#u_1', sk: 'SIGN-IN#01jx' });
    expect(knownDeviceKey('u_1', 'fp')).toEqual({ pk: 'USER#u_1', sk: 'DEVICE#fp' });
    expect(noUserKey('r')).toEqual({ pk: 'USER#~r', sk: 'PROFILE' });
    expect(sessionGsiKey('u_1', 's_1')).toEqual({ gsi1pk: 'USER#u_1', gsi1sk: 'SESSION#s_1' });
    expect(rateWindowKey('sign-in', '192.0.2.1', 7)).toEqual({ pk: 'RATE#sign-in#192.0.2.1', sk: 'W#7' });
    expect(storageNodeKey('lake', 'raw/a')).toEqual({ pk: 'STORAGE-NODE#s3://lake/raw/a', sk: 'NODE' });
    expect(mailTokenKey('m_1')).toEqual({ pk: 'MAIL-TOKEN#m_1', sk: 'TOKEN' });
    expect(passkeyKey('u_1', 'p_1')).toEqual({ pk: 'USER#u_1', sk: 'PASSKEY#p_1' });
    expect(passkeyChallengeKey('c1')).toEqual({ pk: 'PASSKEY-CHALLENGE#c1', sk: 'CHALLENGE' });
    expect(oidcFlowKey('h')).toEqual({ pk: 'OIDC-FLOW#h', sk: 'FLOW' });
    expect(oidcIdentityKey('platform:google', 'h')).toEqual({
      pk: 'OIDC-IDENTITY#platform:google#h',
      sk: 'IDENTITY',
    });
    expect(stepUpKey('h')).toEqual({ pk: 'STEP-UP#h', sk: 'STEP-UP' });
  });

  it('builds every identity partition from one of the prefixes IAM grants are written with', () => {
    // Prepare: one item of each kind of the identity table.
    const partitions = [
      userKey('u_1').pk,
      emailKey('a@example.com').pk,
      sessionKey('s_1').pk,
      mailTokenKey('m_1').pk,
      rateWindowKey('sign-in', '192.0.2.1', 7).pk,
      storageNodeKey('lake', 'raw/a').pk,
      passkeyChallengeKey('c1').pk,
      oidcFlowKey('h').pk,
      oidcIdentityKey('tenant:t_1', 'h').pk,
      stepUpKey('h').pk,
    ];

    // Act
    const kinds = partitions.map(
      (pk) => Object.entries(IDENTITY_PK_PREFIXES).find(([, prefix]) => pk.startsWith(prefix))?.[0],
    );

    // Assess: each kind once, and the prefixes spelled exactly (the deployed LeadingKeys patterns).
    expect(kinds).toEqual([
      'user',
      'email',
      'session',
      'mailToken',
      'rateWindow',
      'storageNode',
      'passkeyChallenge',
      'oidcFlow',
      'oidcIdentity',
      'stepUp',
    ]);
    expect(IDENTITY_PK_PREFIXES).toEqual({
      user: 'USER#',
      email: 'EMAIL#',
      session: 'SESSION#',
      mailToken: 'MAIL-TOKEN#',
      rateWindow: 'RATE#',
      storageNode: 'STORAGE-NODE#',
      passkeyChallenge: 'PASSKEY-CHALLENGE#',
      oidcFlow: 'OIDC-FLOW#',
      oidcIdentity: 'OIDC-IDENTITY#',
      stepUp: 'STEP-UP#',
    });
    expect(rateWindowPk('sign-in', '*')).toBe('RATE#sign-in#*');
  });

  it('tells the kind of a tenant item by its sort key, and cuts access items first', () => {
    // Act / Assess
    expect(
      ['TENANT', 'MEMBER#u', 'APIKEY#k', 'INVITE#i', 'CONNECTION#c', 'LOCATION#l', 'INSTANCE#n'].map(
        tenantItemKind,
      ),
    ).toEqual(['tenant', 'member', 'api-key', 'invitation', 'connection', 'location', 'instance']);
    for (const sk of ['INSTANCE-NAME#lab', 'STORAGE-ACCESS', 'STORAGE-HOLDER#u', 'TENANTS', ''])
      expect(tenantItemKind(sk), sk).toBe('other');
    expect(ACCESS_ITEM_SK_PREFIXES).toEqual(['MEMBER#', 'APIKEY#', 'INVITE#']);
  });
});
