import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  emailKey,
  type ItemKey,
  mailTokenKey,
  OIDC_IDENTITY_GSI_SK_PREFIX,
  PASSKEY_SK_PREFIX,
  SESSION_GSI_SK_PREFIX,
  sessionGsiKey,
  sessionKey,
  stepUpKey,
  userGsiPk,
  userKey,
} from '../domain/item-layout.js';
import { TENANT_PROVIDER_KEY_PREFIX } from '../domain/oidc.js';
import { ConflictError } from '../errors.js';
import { logger } from '../observability.js';
import type { TransactItem } from './audit-recorder.js';
import { transactOrFalse, writeOrFalse } from './conditions.js';
import {
  epochOf,
  IdentityRecords,
  type SessionRecord,
  stripKeys,
  type UserRecord,
} from './identity-records.js';
import { queryAllItems } from './pagination.js';
import type { RateWindows } from './rate-windows.js';
import { SignInHistory } from './sign-in-history.js';

/**
 * A step-up token (identity table `STEP-UP#<hash of the token>`): a fresh passkey assertion of `userId` in
 * session `sessionId`, spent by one sensitive action before `expiresAt` (epoch ms).
 */
export interface StepUpRecord {
  userId: string;
  sessionId: string;
  passkeyId: string;
  createdAt: string;
  expiresAt: number;
}

/** What spending a step-up token came to: spent, or why not (it stays unspent unless it was unknown/used). */
export type StepUpOutcome = 'spent' | 'unknown' | 'expired' | 'other-user' | 'other-session';

/** What a one-time mailed token is for. */
export type MailTokenPurpose = 'verify-email' | 'password-reset' | 'sso-link';

/** The provider identity an `sso-link` token links to the account it was mailed to, once confirmed. */
export interface PendingLink {
  providerKey: string;
  issuer: string;
  subject: string;
  /** The address the provider asserted verified (the account's own: that is why the mail went out). */
  email: string;
}

/** A one-time token sent by mail (identity table `MAIL-TOKEN#<id>` / `TOKEN`); its secret only as a hash. */
export interface MailTokenRecord {
  tokenId: string;
  purpose: MailTokenPurpose;
  userId: string;
  /** The normalised address it was sent to: it works only while the account still has that address. */
  email: string;
  secretHash: string;
  createdAt: string;
  /** Epoch milliseconds; checked on use (DynamoDB's TTL removes the item some time later). */
  expiresAt: number;
  /** `sso-link` only: the identity that confirming the token links. */
  link?: PendingLink;
  /** A reset (or link) token works only while the account's credential epoch is still this one. */
  credentialEpoch?: number;
}

/** What a sign-in checked the password and second factor against. */
export interface VerifiedUserState {
  credentialEpoch: number;
  mfaEnabled: boolean;
}

/** The profile's credential epoch is still `epoch` (an item without one reads as 0). */
function epochIs(epoch: number): { expression: string; values: Record<string, number> } {
  return {
    expression:
      epoch === 0
        ? '(attribute_not_exists(credentialEpoch) OR credentialEpoch = :epoch)'
        : 'credentialEpoch = :epoch',
    values: { ':epoch': epoch },
  };
}

/**
 * The audit events of a change of credentials that ends the account's other sessions, given how many it ends
 * (for its `auth.session.revoked` event): written in the change's own transaction.
 */
export type RevocationAudit = (revoked: number) => TransactItem[];

/** The user's sign-in details changed between the read a change was decided on and its write. */
export class CredentialsChangedError extends ConflictError {
  constructor() {
    super(
      'Your password or MFA settings changed meanwhile (from another session); try again.',
      'credentials-changed',
    );
    this.name = 'CredentialsChangedError';
  }
}

/** The public view of a user. */
export function publicUser(user: UserRecord) {
  return {
    userId: user.userId,
    email: user.email,
    name: user.name,
    createdAt: user.createdAt,
    mfaEnabled: user.mfaEnabled,
    passkeyCount: user.passkeyCount ?? 0,
    emailVerified: user.emailVerifiedAt !== undefined,
  };
}

/**
 * Users, sessions, factors, mail tokens and sign-in history in the identity table (platform credentials: no
 * tenant): what signing in and managing an account need, on top of what every API function reads
 * (IdentityRecords). Only the auth function, and the routes that check a second factor, load it.
 */
export class IdentityStore extends IdentityRecords {
  /** Each account's sign-in attempts and known devices, in this table. */
  readonly signIns: SignInHistory;

  /** `rateWindows`: those of the function's IdentityRecords, when it has them, so their cache is shared. */
  constructor(db: DynamoDBDocumentClient, table: string, rateWindows?: RateWindows) {
    super(db, table, rateWindows);
    this.signIns = new SignInHistory(db, table);
  }

  /**
   * Creates a user and claims the e-mail in one transaction; false (and nothing written) when the e-mail
   * is taken. Both outcomes cost the same one transaction, so neither timing nor answer tells them apart.
   * `alongside` items (its verification token, its first known device) are written with it or not at all.
   */
  async createUser(
    user: UserRecord,
    normalisedEmail: string,
    alongside: TransactItem[] = [],
  ): Promise<boolean> {
    return transactOrFalse(this.db, [...alongside, ...this.newUserPuts(user, normalisedEmail)]);
  }

  /**
   * The transaction items that create an account: its profile and the claim on its e-mail address, each only
   * if there is none yet (so a racing creation of either cancels the whole transaction).
   */
  newUserPuts(user: UserRecord, normalisedEmail: string): TransactItem[] {
    return [
      {
        Put: {
          TableName: this.table,
          Item: { ...userKey(user.userId), ...user },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: { ...emailKey(normalisedEmail), userId: user.userId },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
  }

  /** The transaction item that stores a mailed token (never overwriting one). */
  mailTokenPut(token: MailTokenRecord): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { ...mailTokenKey(token.tokenId), ...token, ttl: Math.ceil(token.expiresAt / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /** Stores a mailed token, with an audit event in the same transaction. */
  async putMailToken(token: MailTokenRecord, audit: TransactItem): Promise<void> {
    await this.db.send(new TransactWriteCommand({ TransactItems: [this.mailTokenPut(token), audit] }));
  }

  async getMailToken(tokenId: string): Promise<MailTokenRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: mailTokenKey(tokenId), ConsistentRead: true }),
    );
    return Item ? stripKeys<MailTokenRecord>(Item) : undefined;
  }

  /** Spends a token: the item goes only if it is still there and for `purpose` (a token works once). */
  mailTokenSpend(token: MailTokenRecord): TransactItem {
    return this.spendToken(token);
  }

  private spendToken(token: MailTokenRecord): TransactItem {
    return {
      Delete: {
        TableName: this.table,
        Key: mailTokenKey(token.tokenId),
        ConditionExpression: 'attribute_exists(pk) AND purpose = :purpose AND secretHash = :hash',
        ExpressionAttributeValues: { ':purpose': token.purpose, ':hash': token.secretHash },
      },
    };
  }

  /**
   * Marks the address verified and spends the token, in one transaction with its audit event: only while
   * the token is unspent and the account still has the address it was sent to. False, and nothing
   * written, otherwise.
   */
  async verifyEmail(token: MailTokenRecord, at: string, audit: TransactItem): Promise<boolean> {
    return transactOrFalse(this.db, [
      this.spendToken(token),
      {
        Update: {
          TableName: this.table,
          Key: userKey(token.userId),
          UpdateExpression: 'SET emailVerifiedAt = :at',
          ConditionExpression:
            'attribute_exists(pk) AND email = :email AND attribute_not_exists(emailVerifiedAt)',
          ExpressionAttributeValues: { ':at': at, ':email': token.email },
        },
      },
      audit,
    ]);
  }

  /**
   * Sets a new password through a reset token, in one transaction with its audit event: the token is
   * spent, the credential epoch moves (every session stops working; so does every other reset token, which
   * carries the old epoch) and the address counts as verified (the link reached it). With `clearMfa` (an
   * account whose address nobody had proved: whoever turned MFA on there never showed they own it), MFA
   * is turned off too. Holds only while the account is as `expected` (its address, epoch and MFA state);
   * false, and nothing written, otherwise. Then deletes the session items (endOthersWith).
   */
  async resetPassword(
    token: MailTokenRecord,
    change: {
      passwordHash: string;
      at: string;
      clearMfa: boolean;
      expectedMfa: boolean;
      /** Delete the account's passkeys and linked provider identities in the same transaction. */
      removeSignInMethods?: boolean;
      /** Delete the account's links to tenants' own providers in the same transaction (the rest stays). */
      removeTenantProviderLinks?: boolean;
    },
    audit: TransactItem,
  ): Promise<{ reset: boolean; revokedSessions: number; removedSignInMethods: number }> {
    const from = token.credentialEpoch ?? 0;
    const epoch = epochIs(from);
    const set = [
      'passwordHash = :h',
      'credentialEpoch = :next',
      'emailVerifiedAt = if_not_exists(emailVerifiedAt, :at)',
    ];
    if (change.clearMfa) set.push('mfaEnabled = :false');
    const removals = change.removeSignInMethods
      ? await this.signInMethodKeys(token.userId)
      : change.removeTenantProviderLinks
        ? await this.linkedIdentityKeys(token.userId, TENANT_PROVIDER_KEY_PREFIX)
        : [];
    if (change.removeSignInMethods) set.push('passkeyCount = :zero');
    const revoked = await this.endOthersWith(token.userId, undefined, from, () =>
      transactOrFalse(this.db, [
        this.spendToken(token),
        ...removals.map((Key): TransactItem => ({ Delete: { TableName: this.table, Key } })),
        {
          Update: {
            TableName: this.table,
            Key: userKey(token.userId),
            UpdateExpression: `SET ${set.join(', ')}${change.clearMfa ? ' REMOVE totpCiphertext, totpLastStep, recoveryCodeHashes, totpPendingCiphertext' : ''}`,
            ConditionExpression: `attribute_exists(pk) AND email = :email AND mfaEnabled = :mfa AND ${epoch.expression}`,
            ExpressionAttributeValues: {
              ':h': change.passwordHash,
              ':next': from + 1,
              ':at': change.at,
              ':email': token.email,
              ':mfa': change.expectedMfa,
              ...(change.clearMfa ? { ':false': false } : {}),
              ...(change.removeSignInMethods ? { ':zero': 0 } : {}),
              ...epoch.values,
            },
          },
        },
        audit,
      ]),
    );
    if (revoked === false) return { reset: false, revokedSessions: 0, removedSignInMethods: 0 };
    return { reset: true, revokedSessions: revoked, removedSignInMethods: removals.length };
  }

  /**
   * The keys of the account's passkeys (its partition, consistent) and linked provider identities (index
   * gsi1): the ways in other than the password. At most PASSKEY_LIMIT passkeys, and links need a verified
   * address, so this stays far below a transaction's 100 items.
   */
  private async signInMethodKeys(userId: string): Promise<ItemKey[]> {
    const [passkeys, identities] = await Promise.all([
      queryAllItems(
        this.db,
        {
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': userKey(userId).pk, ':prefix': PASSKEY_SK_PREFIX },
          ConsistentRead: true,
        },
        keyOfItem,
      ),
      this.linkedIdentityKeys(userId),
    ]);
    return [...passkeys, ...identities];
  }

  /** The keys of the account's linked provider identities (index gsi1) whose provider key starts so. */
  private linkedIdentityKeys(userId: string, providerKeyPrefix = ''): Promise<ItemKey[]> {
    return queryAllItems(
      this.db,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': userGsiPk(userId),
          ':prefix': `${OIDC_IDENTITY_GSI_SK_PREFIX}${providerKeyPrefix}`,
        },
      },
      keyOfItem,
    );
  }

  async getUserIdByEmail(normalisedEmail: string): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: emailKey(normalisedEmail), ConsistentRead: true }),
    );
    return Item?.userId as string | undefined;
  }

  /**
   * Rehashes the password a sign-in has just verified, only if the user's credential epoch is still the one
   * it was verified under (a sign-in racing a password change must not put the old password back).
   */
  async setPasswordHash(userId: string, passwordHash: string, verifiedEpoch: number): Promise<boolean> {
    const epoch = epochIs(verifiedEpoch);
    return writeOrFalse(
      this.db,
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'SET passwordHash = :h',
        ConditionExpression: `attribute_exists(pk) AND ${epoch.expression}`,
        ExpressionAttributeValues: { ':h': passwordHash, ...epoch.values },
      }),
    );
  }

  /**
   * The transaction items that move the user's credential epoch from `from` to `from + 1` together with
   * `set` (more assignments on the profile), and carry `keepSessionId` over to the new epoch: every other
   * session stops working in the same write, whatever the (eventually consistent) session index lists.
   * Other stores add these items to their own transactions (passkeys: shared/store/passkey-store.ts).
   */
  advanceEpoch(
    userId: string,
    from: number,
    keepSessionId: string,
    change: { set?: string; remove?: string; condition?: string; values?: Record<string, unknown> } = {},
  ): TransactItem[] {
    const epoch = epochIs(from);
    return [
      {
        Update: {
          TableName: this.table,
          Key: userKey(userId),
          UpdateExpression: `SET credentialEpoch = :next${change.set ? `, ${change.set}` : ''}${change.remove ? ` REMOVE ${change.remove}` : ''}`,
          ConditionExpression: `attribute_exists(pk) AND ${epoch.expression}${change.condition ? ` AND ${change.condition}` : ''}`,
          ExpressionAttributeValues: { ':next': from + 1, ...epoch.values, ...change.values },
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: sessionKey(keepSessionId),
          UpdateExpression: 'SET credentialEpoch = :next',
          ConditionExpression: 'userId = :u',
          ExpressionAttributeValues: { ':next': from + 1, ':u': userId },
        },
      },
    ];
  }

  /**
   * Changes the password and ends every other session: the credential epoch moves in the same transaction
   * (409 `credentials-changed` if it moved since `verifiedEpoch`), then the other session items are deleted
   * (endOthersWith).
   */
  async changePassword(
    userId: string,
    passwordHash: string,
    verifiedEpoch: number,
    keepSessionId: string,
    audit: TransactItem,
  ): Promise<number> {
    return this.endOthersOrConflict(userId, keepSessionId, verifiedEpoch, () => [
      ...this.advanceEpoch(userId, verifiedEpoch, keepSessionId, {
        set: 'passwordHash = :h',
        values: { ':h': passwordHash },
      }),
      audit,
    ]);
  }

  /**
   * Ends every session of the user but `keepSessionId` at once (the credential epoch moves, the kept session
   * moves with it), with `audit` in the same transaction, then deletes their items (endOthersWith). Retries
   * a concurrent move of the epoch a few times.
   */
  async endOtherSessions(userId: string, keepSessionId: string, audit: RevocationAudit): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const user = await this.getUser(userId);
      if (!user) return 0;
      const from = epochOf(user);
      const revoked = await this.endOthersWith(userId, keepSessionId, from, (count) =>
        transactOrFalse(this.db, [...this.advanceEpoch(userId, from, keepSessionId), ...audit(count)]),
      );
      if (revoked !== false) return revoked;
      if (attempt >= 2) throw new CredentialsChangedError();
    }
  }

  /**
   * Writes a change of the account's credentials that moves its credential epoch from `from` (`write`, told
   * how many other sessions it ends, for its audit event), then deletes the items of every session but
   * `keepSessionId`. The epoch move is what ends them, the moment it commits: the auth check refuses a
   * session made under an older epoch (shared/http/auth.ts assertSessionCurrent), whatever the eventually
   * consistent session index lists. So the count is taken before the write, and deleting the items after it
   * is clean-up: best-effort (clearSessions), a failure does not turn a committed change into an error.
   * Returns how many sessions ended; false when `write` wrote nothing (a condition failed).
   */
  async endOthersWith(
    userId: string,
    keepSessionId: string | undefined,
    from: number,
    write: (revoked: number) => Promise<boolean>,
  ): Promise<number | false> {
    const others = (await this.listSessions(userId)).filter((s) => s.sessionId !== keepSessionId);
    // Sessions under an older epoch had ended already (an earlier change whose clean-up did not finish).
    const revoked = others.filter((s) => epochOf(s) >= from).length;
    if (!(await write(revoked))) return false;
    await this.clearSessions(userId, others);
    return revoked;
  }

  /** endOthersWith, a transaction of `items`: 409 `credentials-changed` when a condition failed. */
  private async endOthersOrConflict(
    userId: string,
    keepSessionId: string,
    from: number,
    items: (revoked: number) => TransactItem[],
  ): Promise<number> {
    const revoked = await this.endOthersWith(userId, keepSessionId, from, (count) =>
      transactOrFalse(this.db, items(count)),
    );
    if (revoked === false) throw new CredentialsChangedError();
    return revoked;
  }

  /** Stores an enrolled, unconfirmed TOTP secret; 409 when MFA is already on. */
  async setPendingTotp(userId: string, ciphertext: string): Promise<void> {
    const set = await writeOrFalse(
      this.db,
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'SET totpPendingCiphertext = :c',
        ConditionExpression: 'attribute_exists(pk) AND mfaEnabled = :false',
        ExpressionAttributeValues: { ':c': ciphertext, ':false': false },
      }),
    );
    if (!set) throw new ConflictError('MFA is already enabled.', 'mfa-already-enabled');
  }

  /**
   * Turns MFA on with the confirmed secret, the first accepted step and the recovery code hashes, marks the
   * session that confirmed it as an MFA session (it just proved the code) and moves the credential epoch
   * (every other session stops working), with `audit`, in one transaction; then deletes the other session
   * items (endOthersWith).
   */
  async enableTotp(
    userId: string,
    ciphertext: string,
    step: number,
    recoveryHashes: string[],
    verifiedEpoch: number,
    currentSessionId: string,
    audit: RevocationAudit,
  ): Promise<number> {
    const [profile, session] = this.advanceEpoch(userId, verifiedEpoch, currentSessionId, {
      set: 'mfaEnabled = :true, totpCiphertext = :c, totpLastStep = :s, recoveryCodeHashes = :r',
      remove: 'totpPendingCiphertext',
      condition: 'mfaEnabled = :false AND totpPendingCiphertext = :c',
      values: { ':true': true, ':false': false, ':c': ciphertext, ':s': step, ':r': new Set(recoveryHashes) },
    });
    const upgrade = session!.Update!;
    upgrade.UpdateExpression = `${upgrade.UpdateExpression}, authMethod = :method, mfa = :true`;
    upgrade.ExpressionAttributeValues = {
      ...upgrade.ExpressionAttributeValues,
      ':method': 'password+totp',
      ':true': true,
    };
    const revoked = await this.endOthersWith(userId, currentSessionId, verifiedEpoch, (count) =>
      transactOrFalse(this.db, [profile!, session!, ...audit(count)]),
    );
    if (revoked === false)
      throw new ConflictError('MFA changed meanwhile; start enrolment again.', 'mfa-state-changed');
    return revoked;
  }

  /**
   * Turns MFA off and moves the credential epoch (every other session stops working, as with any change
   * to how the account signs in), with `audit`, in one transaction; then deletes the other session items
   * (endOthersWith).
   */
  async disableTotp(
    userId: string,
    verifiedEpoch: number,
    currentSessionId: string,
    audit: RevocationAudit,
  ): Promise<number> {
    return this.endOthersOrConflict(userId, currentSessionId, verifiedEpoch, (count) => [
      ...this.advanceEpoch(userId, verifiedEpoch, currentSessionId, {
        set: 'mfaEnabled = :false',
        remove: 'totpCiphertext, totpLastStep, recoveryCodeHashes, totpPendingCiphertext',
        condition: 'mfaEnabled = :true',
        values: { ':true': true, ':false': false },
      }),
      ...audit(count),
    ]);
  }

  /** Records a TOTP step as used; false when it (or a later one) was used already (a replay). */
  async consumeTotpStep(userId: string, step: number): Promise<boolean> {
    return writeOrFalse(
      this.db,
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'SET totpLastStep = :s',
        ConditionExpression: 'attribute_not_exists(totpLastStep) OR totpLastStep < :s',
        ExpressionAttributeValues: { ':s': step },
      }),
    );
  }

  /** Removes a recovery code hash; false when it is not (or no longer) there. */
  async consumeRecoveryCode(userId: string, codeHash: string): Promise<boolean> {
    return writeOrFalse(
      this.db,
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'DELETE recoveryCodeHashes :h',
        ConditionExpression: 'contains(recoveryCodeHashes, :v)',
        ExpressionAttributeValues: { ':h': new Set([codeHash]), ':v': codeHash },
      }),
    );
  }

  /** The transaction item that stores a step-up token under the hash of its secret (never overwriting one). */
  stepUpPut(tokenHash: string, record: StepUpRecord): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { ...stepUpKey(tokenHash), ...record, ttl: Math.ceil(record.expiresAt / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /**
   * Spends a step-up token with one conditional delete: it goes only if it exists, is this user's, of this
   * session and unexpired, so of two concurrent uses exactly one succeeds. On a failed condition the item
   * read back (ReturnValuesOnConditionCheckFailure) tells why; a token of another user or session, or an
   * expired one, is left in place (its TTL removes it).
   */
  async spendStepUp(
    tokenHash: string,
    expected: { userId: string; sessionId: string; now: number },
  ): Promise<StepUpOutcome> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: stepUpKey(tokenHash),
          ConditionExpression:
            'attribute_exists(pk) AND userId = :user AND sessionId = :session AND expiresAt > :now',
          ExpressionAttributeValues: {
            ':user': expected.userId,
            ':session': expected.sessionId,
            ':now': expected.now,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'spent';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item as Record<string, { S?: string; N?: string }> | undefined;
      if (!item) return 'unknown';
      if (item.userId?.S !== expected.userId) return 'other-user';
      if (item.sessionId?.S !== expected.sessionId) return 'other-session';
      return 'expired';
    }
  }

  /**
   * Writes a session made under `verified` (the credential epoch and MFA state its sign-in checked), only if
   * the user is still in that state: false, and nothing written, when the password or MFA changed since
   * (a sign-in in flight never outlives such a change).
   */
  async createSession(
    session: SessionRecord,
    verified: VerifiedUserState | { createdWith: TransactItem[] },
    ...alongside: TransactItem[]
  ): Promise<boolean> {
    const ttl = Math.ceil(session.absoluteExpiresAt / 1000);
    const put: TransactItem = {
      Put: {
        TableName: this.table,
        Item: {
          ...sessionKey(session.sessionId),
          ...session,
          credentialEpoch: 'createdWith' in verified ? 0 : verified.credentialEpoch,
          ...sessionGsiKey(session.userId, session.sessionId),
          ttl,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    // An account created in this very transaction (`createdWith`, its profile among the items) has the
    // state it is made with; a transaction cannot both put and check one item, so there is no check then.
    if ('createdWith' in verified)
      return transactOrFalse(this.db, [...verified.createdWith, put, ...alongside]);
    const epoch = epochIs(verified.credentialEpoch);
    const check: TransactItem = {
      ConditionCheck: {
        TableName: this.table,
        Key: userKey(session.userId),
        ConditionExpression: `attribute_exists(pk) AND mfaEnabled = :mfa AND ${epoch.expression}`,
        ExpressionAttributeValues: { ':mfa': verified.mfaEnabled, ...epoch.values },
      },
    };
    return transactOrFalse(this.db, [put, check, ...alongside]);
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: sessionKey(sessionId), ConsistentRead: true }),
    );
    return Item ? stripKeys<SessionRecord>(Item) : undefined;
  }

  listSessions(userId: string): Promise<SessionRecord[]> {
    return queryAllItems(
      this.db,
      {
        TableName: this.table,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        ExpressionAttributeValues: { ':pk': userGsiPk(userId), ':prefix': SESSION_GSI_SK_PREFIX },
      },
      stripKeys<SessionRecord>,
    );
  }

  /** Deletes one of the user's sessions; false when there is no such session of that user. */
  async deleteSession(userId: string, sessionId: string, audit?: TransactItem): Promise<boolean> {
    const del: TransactItem = {
      Delete: {
        TableName: this.table,
        Key: sessionKey(sessionId),
        ConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
      },
    };
    return audit
      ? transactOrFalse(this.db, [del, audit])
      : writeOrFalse(this.db, new DeleteCommand(del.Delete as never));
  }

  /**
   * Deletes the items of sessions a move of the credential epoch has ended, best-effort: they no longer
   * work, so a failure is logged, not raised (the items expire with their TTL, and the next revocation of
   * the account's other sessions lists and deletes them again).
   */
  async clearSessions(userId: string, sessions: Pick<SessionRecord, 'sessionId'>[]): Promise<void> {
    try {
      for (let i = 0; i < sessions.length; i += 25) {
        let requests: Record<string, unknown>[] | undefined = sessions
          .slice(i, i + 25)
          .map((s) => ({ DeleteRequest: { Key: sessionKey(s.sessionId) } }));
        for (let attempt = 0; requests?.length && attempt < 5; attempt++) {
          const result = await this.db.send(
            new BatchWriteCommand({ RequestItems: { [this.table]: requests as never } }),
          );
          requests = result.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
        }
        if (requests?.length) throw new Error(`${requests.length} session items left unprocessed`);
      }
    } catch (error) {
      logger.warn('ended sessions not all deleted; they stay refused by the credential epoch', {
        userId,
        sessions: sessions.length,
        error,
      });
    }
  }
}

/** The table key of a queried item. */
function keyOfItem(item: Record<string, unknown>): ItemKey {
  return { pk: item.pk as string, sk: item.sk as string };
}
