import { useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api/client';
import { addPasskey, passkeysAvailable, stepUpWithPasskey } from '../app/passkeys';
import { useSession } from '../app/session';
import { CurrentPasswordField, Field, Form, raw, text } from '../components/form';
import { useLoad } from '../components/hooks';
import {
  FactorField,
  FactorSwitch,
  factorBody,
  NoUsableFactor,
  useSecondFactor,
} from '../components/second-factor';
import { DataTable, Loading, Notice, ProblemAlert, Section, When } from '../components/status';

type Passkey = Schemas['Passkey'];

const othersEnded = (n: number) =>
  n === 0 ? 'No other session was' : n === 1 ? '1 other session was' : `${n} other sessions were`;

/** The account's passkeys: add one on this device, rename or remove any. */
export function PasskeysSection() {
  const list = useLoad(async () => ok(await api.GET('/v1/me/passkeys')).items, []);
  const { me, refresh } = useSession();
  // The account's last second factor (its only passkey, TOTP off) is removed only with a fresh passkey
  // confirmation, as the API demands.
  const lastFactor = !me.user.mfaEnabled && me.user.passkeyCount <= 1;
  // Adding a passkey beside a factor the account has needs a fresh one of them (the API's rule).
  const addFactor = useSecondFactor(me.user);
  const [notice, setNotice] = useState<string>();
  // The account's passkey count decides how other forms confirm a sensitive change: reload it with the list.
  const reload = async () => {
    await list.reload();
    await refresh();
  };
  const available = passkeysAvailable();

  return (
    <Section title="Passkeys" id="passkeys">
      <p>
        A passkey signs you in without your password, with your device’s screen lock or security key (it
        counts as two-step verification). Adding or removing one asks for your password and signs out your
        other sessions.
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={list.problem} />
      {list.loading && !list.data ? (
        <Loading />
      ) : list.data && list.data.length > 0 ? (
        <DataTable label="Your passkeys" columns={['Name', 'Added', 'Last used', 'Kind', 'Actions']}>
          {list.data.map((passkey) => (
            <PasskeyRow
              key={passkey.passkeyId}
              passkey={passkey}
              lastFactor={lastFactor}
              onChanged={async (message) => {
                setNotice(message);
                await reload();
              }}
            />
          ))}
        </DataTable>
      ) : (
        <p>No passkeys yet.</p>
      )}
      {available ? (
        <details>
          <summary>Add a passkey</summary>
          {addFactor.required && !addFactor.kind ? (
            <NoUsableFactor />
          ) : (
            <>
              <Form
                key={addFactor.kind ?? 'none'}
                label="Add a passkey"
                submitLabel="Create passkey"
                busyLabel="Waiting for your device…"
                resetOnSuccess
                onSubmit={async (values) => {
                  const name = text(values, 'name') ?? '';
                  const currentPassword = raw(values, 'currentPassword');
                  // With a factor already, a fresh one of it first (for a passkey: the browser's prompt).
                  const factor = await factorBody(addFactor.kind, values);
                  const revoked = await addPasskey(name, currentPassword, factor);
                  setNotice(`Passkey “${name}” added. ${othersEnded(revoked)} signed out.`);
                  await reload();
                }}
              >
                <Field
                  name="name"
                  label="Passkey name"
                  hint="To tell your passkeys apart, e.g. “Work laptop”."
                  maxLength={64}
                  required
                />
                <CurrentPasswordField />
                <FactorField kind={addFactor.kind} />
              </Form>
              <FactorSwitch {...addFactor} />
            </>
          )}
        </details>
      ) : (
        <Notice tone="info">
          This browser cannot create passkeys here (passkeys need a browser with WebAuthn, on a site address
          rather than an IP address).
        </Notice>
      )}
    </Section>
  );
}

function PasskeyRow({
  passkey,
  lastFactor,
  onChanged,
}: {
  passkey: Passkey;
  lastFactor: boolean;
  onChanged: (message: string) => Promise<void>;
}) {
  return (
    <tr>
      <td>{passkey.name}</td>
      <td>
        <When iso={passkey.createdAt} />
      </td>
      <td>{passkey.lastUsedAt ? <When iso={passkey.lastUsedAt} /> : 'never'}</td>
      <td>{passkey.deviceType === 'multiDevice' ? 'Synced' : 'This device only'}</td>
      <td>
        <details>
          <summary>
            Rename<span class="visually-hidden"> {passkey.name}</span>
          </summary>
          <Form
            label={`Rename ${passkey.name}`}
            submitLabel="Save name"
            busyLabel="Saving…"
            onSubmit={async (values) => {
              const name = text(values, 'name') ?? '';
              ok(
                await api.PATCH('/v1/me/passkeys/{passkeyId}', {
                  params: { path: { passkeyId: passkey.passkeyId } },
                  body: { name },
                }),
              );
              await onChanged(`Passkey renamed to “${name}”.`);
            }}
          >
            <Field name="name" label="New name" defaultValue={passkey.name} maxLength={64} required />
          </Form>
        </details>
        <details>
          <summary>
            Remove<span class="visually-hidden"> {passkey.name}</span>
          </summary>
          {lastFactor && !passkeysAvailable() ? (
            <NoUsableFactor />
          ) : (
            <Form
              label={`Remove ${passkey.name}`}
              submitLabel="Remove passkey"
              busyLabel="Removing…"
              danger
              onSubmit={async (values) => {
                const currentPassword = raw(values, 'currentPassword');
                const stepUp = lastFactor ? { stepUpToken: await stepUpWithPasskey() } : {};
                const result = ok(
                  await api.DELETE('/v1/me/passkeys/{passkeyId}', {
                    params: { path: { passkeyId: passkey.passkeyId } },
                    body: { currentPassword, ...stepUp },
                  }),
                );
                await onChanged(
                  `Passkey “${passkey.name}” removed. ${othersEnded(result.revokedSessions)} signed out.`,
                );
              }}
            >
              {lastFactor && (
                <p class="hint">
                  This is your last second factor: when you send this, your browser asks for this passkey (or
                  another of yours) to confirm it is you, and your account is then protected by its password
                  alone.
                </p>
              )}
              <CurrentPasswordField />
            </Form>
          )}
        </details>
      </td>
    </tr>
  );
}
