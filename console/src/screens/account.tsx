import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { useSession } from '../app/session';
import { CodeField, CurrentPasswordField, Field, Form, raw, text } from '../components/form';
import { useTitle } from '../components/hooks';
import { OidcLinkSection } from '../components/oidc-buttons';
import { QrCode } from '../components/qr-code';
import {
  FactorField,
  FactorSwitch,
  factorBody,
  NoUsableFactor,
  useSecondFactor,
} from '../components/second-factor';
import { CopyButton, DownloadButton, SecretValue } from '../components/secrets';
import { Notice, Section } from '../components/status';
import { PasskeysSection } from './passkeys';

/** Password, two-step verification (TOTP) and passkeys of the signed-in user. */
export function AccountScreen() {
  useTitle('Account');
  const { me } = useSession();
  return (
    <>
      <h1>Account</h1>
      <p>
        Signed in as <strong>{me.user.name}</strong> ({me.user.email}).
      </p>
      <MfaSection />
      <PasskeysSection />
      <PasswordSection />
      <OidcLinkSection />
    </>
  );
}

function PasswordSection() {
  const { me } = useSession();
  const [done, setDone] = useState<number>();
  const factor = useSecondFactor(me.user);
  return (
    <Section title="Change password" id="password">
      {done !== undefined && (
        <Notice>
          Password changed. {done === 1 ? '1 other session was' : `${done} other sessions were`} signed out.
        </Notice>
      )}
      {factor.required && !factor.kind ? (
        <NoUsableFactor />
      ) : (
        <>
          <Form
            key={factor.kind ?? 'none'}
            label="Change password"
            submitLabel="Change password"
            busyLabel="Changing…"
            resetOnSuccess
            onSubmit={async (values) => {
              const result = ok(
                await api.POST('/v1/me/password', {
                  body: {
                    currentPassword: raw(values, 'currentPassword'),
                    newPassword: raw(values, 'newPassword'),
                    ...(await factorBody(factor.kind, values)),
                  },
                }),
              );
              setDone(result.revokedSessions);
            }}
          >
            <CurrentPasswordField />
            <Field
              name="newPassword"
              label="New password"
              type="password"
              autoComplete="new-password"
              hint="12 to 256 characters."
              required
            />
            <FactorField kind={factor.kind} />
          </Form>
          <FactorSwitch {...factor} />
        </>
      )}
    </Section>
  );
}

type Enrolment = { secret: string; otpauthUri: string };

function MfaSection() {
  const { me, refresh } = useSession();
  const [enrolment, setEnrolment] = useState<Enrolment>();
  const [recoveryCodes, setRecoveryCodes] = useState<string[]>();
  const [removed, setRemoved] = useState(false);

  if (recoveryCodes) {
    const file = `Strongroom recovery codes for ${me.user.email}\nEach code works once.\n\n${recoveryCodes.join('\n')}\n`;
    return (
      <Section title="Two-step verification is on" id="mfa">
        <Notice tone="warn">
          Save these recovery codes now: they are shown only once. Each one signs you in once if you lose your
          authenticator.
        </Notice>
        <ol class="codes mono" aria-label="Recovery codes">
          {recoveryCodes.map((code) => (
            <li key={code}>{code}</li>
          ))}
        </ol>
        <div class="row">
          <CopyButton value={recoveryCodes.join('\n')} label="Copy recovery codes" />
          <DownloadButton
            content={file}
            filename="strongroom-recovery-codes.txt"
            label="Download recovery codes"
          />
          <button
            type="button"
            class="primary"
            onClick={() => {
              setRecoveryCodes(undefined);
              setEnrolment(undefined);
            }}
          >
            I have saved them
          </button>
        </div>
      </Section>
    );
  }

  if (me.user.mfaEnabled) {
    return (
      <Section title="Two-step verification" id="mfa">
        <p>
          <span class="badge ok">On</span> Signing in needs a code from your authenticator app (or a recovery
          code).
        </p>
        <details>
          <summary>Turn two-step verification off</summary>
          <RemoveMfaForm
            onRemoved={async () => {
              setRemoved(true);
              await refresh();
            }}
          />
        </details>
      </Section>
    );
  }

  if (!enrolment) {
    return (
      <Section title="Two-step verification" id="mfa">
        {removed && <Notice>Two-step verification is off.</Notice>}
        <p>
          <span class="badge warn">Off</span> Protect your account with an authenticator app (TOTP). Some
          tenants require it.
        </p>
        <Form
          label="Set up two-step verification"
          submitLabel="Set up two-step verification"
          busyLabel="Starting…"
          onSubmit={async () => {
            setEnrolment(ok(await api.POST('/v1/me/mfa/totp')));
          }}
        >
          {null}
        </Form>
      </Section>
    );
  }

  return (
    <Section title="Set up two-step verification" id="mfa">
      <ol class="steps">
        <li>
          <p>Scan this QR code with your authenticator app, or type the secret into it.</p>
          <QrCode text={enrolment.otpauthUri} label="QR code to add Strongroom to your authenticator app" />
          <SecretValue label="Secret" value={enrolment.secret} />
        </li>
        <li>
          <p>Enter the code the app shows, and your password to confirm it is you.</p>
          <ConfirmTotpForm
            onConfirmed={async (codes) => {
              setRecoveryCodes(codes);
              await refresh();
            }}
          />
        </li>
      </ol>
    </Section>
  );
}

/** The enrolment's first code and the password; beside a passkey, also a fresh passkey confirmation. */
function ConfirmTotpForm({ onConfirmed }: { onConfirmed: (recoveryCodes: string[]) => Promise<void> }) {
  const { me } = useSession();
  const factor = useSecondFactor(me.user);
  if (factor.required && !factor.kind) return <NoUsableFactor />;
  return (
    <Form
      label="Confirm two-step verification"
      submitLabel="Turn on two-step verification"
      busyLabel="Confirming…"
      onSubmit={async (values) => {
        const code = text(values, 'code') ?? '';
        const currentPassword = raw(values, 'currentPassword');
        const result = ok(
          await api.POST('/v1/me/mfa/totp/confirm', {
            body: { code, currentPassword, ...(await factorBody(factor.kind, values)) },
          }),
        );
        await onConfirmed(result.recoveryCodes);
      }}
    >
      <CodeField label="Code from the app" />
      <CurrentPasswordField />
      <FactorField kind={factor.kind} />
    </Form>
  );
}

function RemoveMfaForm({ onRemoved }: { onRemoved: () => Promise<void> }) {
  const { me } = useSession();
  const factor = useSecondFactor(me.user);
  return (
    <>
      <Form
        key={factor.kind}
        label="Turn two-step verification off"
        submitLabel="Turn off"
        busyLabel="Turning off…"
        danger
        onSubmit={async (values) => {
          ok(await api.DELETE('/v1/me/mfa/totp', { body: await factorBody(factor.kind, values, 'code') }));
          await onRemoved();
        }}
      >
        <FactorField kind={factor.kind} codeName="code" />
      </Form>
      <FactorSwitch {...factor} />
    </>
  );
}
