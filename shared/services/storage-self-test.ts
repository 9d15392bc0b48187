import { randomBytes } from 'node:crypto';
import { auditActorOf, type TenantCaller } from '../domain/caller.js';
import { MIN_CREDENTIAL_SECONDS, type StorageAccess } from '../domain/storage-limits.js';
import { formatStorageRoot } from '../domain/storage-roots.js';
import {
  STORAGE_VALIDATION_CHECKS,
  type StorageValidationCheck,
  type StorageValidationCheckName,
  validationResult,
} from '../domain/storage-validation.js';
import { HttpProblemError, NotFoundError } from '../errors.js';
import type { ProbeOutcome } from '../store/storage-probe.js';
import { StorageCredentials } from './storage-credentials.js';
import type { StorageServiceDeps } from './storage-deps.js';

/** A location's scope self-test, with credentials obtained as the caller's vend would obtain them. */
export class StorageSelfTest {
  readonly #d: StorageServiceDeps;
  readonly #enforcesIam: boolean;
  readonly #credentials: StorageCredentials;

  constructor(deps: StorageServiceDeps) {
    this.#d = deps;
    this.#enforcesIam = deps.enforcesIam ?? true;
    this.#credentials = new StorageCredentials(deps);
  }

  /**
   * The scope self-test of a location: vends read and write credentials as the caller, then with them reads
   * and writes a probe object inside the prefix (with the location's KMS key), and tries what must be refused:
   * a write with the read session, a write outside the prefix and in a sibling prefix (`<prefix>-…`), a listing
   * without the prefix's trailing slash. Where IAM is not enforced (the local emulator) the refusals are not
   * tried and are reported `not-judged`, never passed. Probe objects are removed; the run is audited.
   */
  async validateLocation(caller: TenantCaller, locationId: string) {
    const { scope } = caller.access;
    const location = await this.#d.store.getLocation(scope, locationId);
    if (!location) throw new NotFoundError('No such storage location.');
    const probes = this.#d.probes;
    if (!probes) throw new Error('validateLocation needs the storage probes');
    const checks = new Map<StorageValidationCheckName, StorageValidationCheck>();
    const report = (
      name: StorageValidationCheckName,
      status: StorageValidationCheck['status'],
      detail: string,
    ) => checks.set(name, { name, status, detail });
    const finish = async () => {
      const all = [...checks.values()];
      const result = validationResult(all);
      await this.#d.audit.record(scope, {
        action: 'storage-location.validated',
        actor: auditActorOf(caller),
        resource: { type: 'storage-location', id: locationId },
        details: { result, checks: all.map(({ name, status }) => ({ name, status })) },
      });
      return { locationId, result, checks: all };
    };
    const notRun = (names: readonly StorageValidationCheckName[], why: string) => {
      for (const name of names) if (!checks.has(name)) report(name, 'not-run', why);
    };

    if (location.endpoint && !location.stsEndpoint) {
      report(
        'credentials-issued',
        'not-applicable',
        "A signing-only location (its store has no STS endpoint): no credentials are issued, and each request is checked by POST …/sign before it is signed with the store's key pair.",
      );
      notRun(
        STORAGE_VALIDATION_CHECKS,
        'Needs scoped credentials, which a signing-only location does not issue; the store key pair itself was proven to list the root when it was registered or replaced.',
      );
      return finish();
    }
    // 1. Credentials, exactly as a vend of the caller's would get them.
    const issued: Partial<Record<StorageAccess, Awaited<ReturnType<StorageCredentials['vend']>>>> = {};
    const refusals: string[] = [];
    for (const access of ['read', 'write'] as const) {
      try {
        issued[access] = await this.#credentials.vend(caller, {
          location: locationId,
          access,
          durationSeconds: MIN_CREDENTIAL_SECONDS,
        });
      } catch (error) {
        if (!(error instanceof HttpProblemError) || error.status >= 500) throw error;
        refusals.push(`${access}: ${error.message}`);
      }
    }
    if (!issued.read || !issued.write) {
      report('credentials-issued', 'fail', `Not issued. ${refusals.join(' ')}`);
      notRun(STORAGE_VALIDATION_CHECKS, 'Needs read and write credentials.');
      return finish();
    }
    report(
      'credentials-issued',
      'pass',
      `Read (${issued.read.vendId}) and write (${issued.write.vendId}) credentials issued.`,
    );
    const { bucket, prefix } = location;
    const where = {
      region: issued.read.region,
      pathStyle: issued.read.pathStyle,
      ...(location.endpoint
        ? {
            store: {
              endpoint: location.endpoint,
              hostPolicy: this.#d.hostPolicy ?? { allowPrivateNetworks: false },
            },
          }
        : {}),
    };
    const session = (c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => ({
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
    });
    const read = probes(session(issued.read), where);
    const write = probes(session(issued.write), where);
    const run = randomBytes(8).toString('hex');
    const inside = `${prefix ? `${prefix}/` : ''}.strongroom-validation/${run}`;
    const body = `strongroom validation ${run}
`;
    const said = (o: ProbeOutcome<unknown>) =>
      o.outcome === 'allowed' ? 'allowed' : `${o.outcome} (${o.error})`;
    try {
      // 2. Read inside the prefix: list it as clients do (with the trailing slash).
      const listed = await read.list(bucket, prefix ? `${prefix}/` : '');
      report(
        'read-inside-prefix',
        listed.outcome === 'allowed' ? 'pass' : 'fail',
        `Listing ${formatStorageRoot(location)}/ with the read session: ${said(listed)}.`,
      );

      // 3 and 4. A probe object written with the write session, read back with the read session, removed.
      const sse = issued.write.sse;
      const put = await write.put(bucket, inside, body, sse);
      const got = put.outcome === 'allowed' ? await read.get(bucket, inside) : undefined;
      const removed = put.outcome === 'allowed' ? await write.delete(bucket, inside) : undefined;
      const roundTrip =
        got?.outcome === 'allowed' && got.value.body === body && removed?.outcome === 'allowed';
      report(
        'write-inside-prefix',
        roundTrip ? 'pass' : 'fail',
        `Writing s3://${bucket}/${inside}: ${said(put)}${got ? `; reading it back: ${said(got)}` : ''}${removed ? `; removing it: ${said(removed)}` : ''}.`,
      );
      // Managed: the tenant's own key, which the write session demands (its vend's hint names it).
      const keyArn = location.kind === 'external' ? location.kmsKeyArn : sse?.keyArn;
      if (location.kind === 'external' && !keyArn && !location.previousKmsKeyArns)
        report('kms-key', 'not-applicable', 'The location names no KMS key (SSE-S3 or the bucket default).');
      else if (!roundTrip) report('kms-key', 'not-run', 'Needs the probe object written and read back.');
      else if (!this.#enforcesIam)
        report(
          'kms-key',
          'not-judged',
          'The local emulator calls no KMS for S3, so it cannot show that S3 may use the key for this session.',
        );
      else {
        const encryption = got.outcome === 'allowed' ? got.value : undefined;
        const underKey =
          encryption?.serverSideEncryption === 'aws:kms' &&
          (!keyArn || (encryption.kmsKeyId ?? '').endsWith(keyArn.split('/')[1]!));
        report(
          'kms-key',
          underKey ? 'pass' : 'fail',
          underKey
            ? `S3 encrypted and decrypted the probe object with ${keyArn ?? "the bucket's default key"}${location.kind === 'managed' ? " (the tenant's own key)" : ''} for this session.`
            : `The probe object was stored with ${encryption?.serverSideEncryption ?? 'no'} encryption${encryption?.kmsKeyId ? ` under ${encryption.kmsKeyId}` : ''}, not the location's key.`,
        );
      }

      // 5 to 8. What must be refused, only where IAM decides.
      const refusalsToTry: [
        StorageValidationCheckName,
        () => Promise<ProbeOutcome>,
        string,
        string | undefined,
      ][] = [
        [
          'read-session-cannot-write',
          () => read.put(bucket, `${inside}-read`, body),
          'A write with the read session',
          `${inside}-read`,
        ],
      ];
      if (prefix) {
        const outside = `strongroom-validation-outside/${run}`;
        const sibling = `${prefix}-strongroom-validation/${run}`;
        refusalsToTry.push(
          [
            'write-outside-prefix-refused',
            () => write.put(bucket, outside, body, sse),
            `A write to s3://${bucket}/${outside}`,
            outside,
          ],
          [
            'write-sibling-prefix-refused',
            () => write.put(bucket, sibling, body, sse),
            `A write to s3://${bucket}/${sibling}`,
            sibling,
          ],
          [
            'list-sibling-prefix-refused',
            () => read.list(bucket, prefix),
            `Listing s3://${bucket}/${prefix} without the trailing slash (it would show sibling prefixes)`,
            undefined,
          ],
        );
      } else
        for (const name of [
          'write-outside-prefix-refused',
          'write-sibling-prefix-refused',
          'list-sibling-prefix-refused',
        ] as const)
          report(
            name,
            'not-applicable',
            'The location is a whole bucket: there is nothing outside it in the bucket.',
          );
      for (const [name, attempt, what, key] of refusalsToTry) {
        if (!this.#enforcesIam) {
          report(
            name,
            'not-judged',
            `${what} was not tried: the local emulator enforces no IAM, so it would succeed whatever the policy says. It is judged against AWS.`,
          );
          continue;
        }
        const outcome = await attempt();
        if (outcome.outcome === 'denied') report(name, 'pass', `${what} was refused (${outcome.error}).`);
        else if (outcome.outcome === 'failed')
          report(name, 'fail', `${what} failed for another reason than a refusal (${outcome.error}).`);
        else {
          // The scope leaks: say so, and take back what the write left.
          const cleanup = key ? await write.delete(bucket, key) : undefined;
          report(
            name,
            'fail',
            `${what} was allowed.${cleanup ? ` Removing the object: ${said(cleanup)}.` : ''}`,
          );
        }
      }
    } finally {
      read.close();
      write.close();
    }
    return finish();
  }
}
