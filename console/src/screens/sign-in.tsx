import { useState } from 'preact/hooks';
import { ApiProblem } from '../api/client';
import { passkeysAvailable, signInWithPasskey } from '../app/passkeys';
import { href } from '../app/router';
import { signIn } from '../app/session';
import { CodeField, Field, Form, raw, text } from '../components/form';
import { useTitle } from '../components/hooks';
import { OidcButtons, OrganisationSignIn } from '../components/oidc-buttons';
import { Notice, ProblemAlert } from '../components/status';

/**
 * Sign in. When the account has MFA on, the API answers `mfa-required`; the second step asks for an
 * authenticator code or a recovery code and sends the password again (nothing is kept between the steps
 * but the two typed values, in memory).
 */
export function SignInScreen({
  onSignedIn,
  email,
  problem,
  organisation,
}: {
  onSignedIn: () => Promise<void>;
  email?: string;
  /** The tenant of an organisation sign-in link (`#/sso/<tenantId>`). */
  organisation?: string;
  /** Why a sign-in through an identity provider did not finish. */
  problem?: ApiProblem;
}) {
  useTitle('Sign in');
  const [first, setFirst] = useState<{ email: string; password: string }>();
  const [useRecovery, setUseRecovery] = useState(false);

  if (!first) {
    return (
      <main id="main" class="narrow">
        <h1>Sign in</h1>
        <ProblemAlert problem={problem} />
        <Form
          label="Sign in"
          submitLabel="Sign in"
          busyLabel="Signing in…"
          onSubmit={async (values) => {
            const credentials = { email: text(values, 'email') ?? '', password: raw(values, 'password') };
            try {
              await signIn(credentials);
            } catch (error) {
              if (error instanceof ApiProblem && error.code === 'mfa-required') {
                setFirst(credentials);
                return;
              }
              throw error;
            }
            await onSignedIn();
          }}
        >
          <Field
            name="email"
            label="E-mail"
            type="email"
            autoComplete="username"
            defaultValue={email}
            required
          />
          <Field name="password" label="Password" type="password" autoComplete="current-password" required />
        </Form>
        {passkeysAvailable() && (
          <Form
            label="Sign in with a passkey"
            submitLabel="Sign in with a passkey"
            busyLabel="Waiting for your passkey…"
            class="form passkey"
            onSubmit={async () => {
              await signInWithPasskey();
              await onSignedIn();
            }}
          >
            {null}
          </Form>
        )}
        <OidcButtons />
        <OrganisationSignIn tenantId={organisation} />
        <p>
          No account yet? <a href={href('/sign-up')}>Create one</a>
        </p>
        <p>
          <a href={href('/forgot-password')}>Forgot your password?</a>
        </p>
      </main>
    );
  }

  return (
    <main id="main" class="narrow">
      <h1>Two-step verification</h1>
      <Notice tone="info">
        {useRecovery
          ? 'Enter one of your recovery codes. Each code works once.'
          : 'Enter the 6-digit code from your authenticator app.'}
      </Notice>
      <Form
        key={useRecovery ? 'recovery' : 'code'}
        label="Second factor"
        submitLabel="Verify and sign in"
        busyLabel="Verifying…"
        onSubmit={async (values) => {
          await signIn(
            useRecovery
              ? { ...first, recoveryCode: text(values, 'recoveryCode') ?? '' }
              : { ...first, mfaCode: text(values, 'mfaCode') ?? '' },
          );
          await onSignedIn();
        }}
      >
        {useRecovery ? (
          <Field name="recoveryCode" label="Recovery code" autoComplete="off" required />
        ) : (
          <CodeField name="mfaCode" />
        )}
      </Form>
      <p class="row">
        <button type="button" class="link" onClick={() => setUseRecovery(!useRecovery)}>
          {useRecovery ? 'Use an authenticator code instead' : 'Use a recovery code instead'}
        </button>
        <button type="button" class="link" onClick={() => setFirst(undefined)}>
          Start over
        </button>
      </p>
    </main>
  );
}
