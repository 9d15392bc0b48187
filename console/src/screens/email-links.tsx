import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { href } from '../app/router';
import { Field, Form, raw, text } from '../components/form';
import { useAction, useTitle } from '../components/hooks';
import { Loading, Notice, ProblemAlert } from '../components/status';

/**
 * The token of a mailed link, taken out of the address bar at once: it stays in memory for the one request
 * that spends it, and never in the history, a bookmark or a screenshot of the URL.
 */
function useLinkToken(token: string, screen: string): string {
  const [kept] = useState(token);
  useEffect(() => {
    window.history.replaceState(null, '', `${window.location.pathname}#${screen}`);
  }, [screen]);
  return kept;
}

/** Opens a verification link: the address is verified with its token, signed in or not. */
export function VerifyEmailScreen({ token, onVerified }: { token: string; onVerified: () => Promise<void> }) {
  useTitle('Verify e-mail address');
  const kept = useLinkToken(token, '/verify-email');
  const action = useAction();
  const [email, setEmail] = useState<string>();
  useEffect(() => {
    void action.run(async () => {
      const answer = ok(await api.POST('/v1/auth/verify-email', { body: { token: kept } }));
      setEmail(answer.email);
      await onVerified();
    });
  }, [kept]);
  return (
    <main id="main" class="narrow">
      <h1>Verify e-mail address</h1>
      {action.problem ? (
        <ProblemAlert problem={action.problem} />
      ) : email ? (
        <Notice>{`${email} is verified. You can now create tenants and accept invitations.`}</Notice>
      ) : (
        <Loading label="Verifying…" />
      )}
      <p>
        <a href={href('/')}>Continue to the console</a>
      </p>
    </main>
  );
}

/** Asks for a reset link. The answer is the same whether or not the address has an account. */
export function ForgotPasswordScreen() {
  useTitle('Forgot password');
  const [message, setMessage] = useState<string>();
  return (
    <main id="main" class="narrow">
      <h1>Forgot password</h1>
      {message ? (
        <Notice>{message}</Notice>
      ) : (
        <Form
          label="Ask for a reset link"
          submitLabel="Send reset link"
          busyLabel="Sending…"
          onSubmit={async (values) => {
            const answer = ok(
              await api.POST('/v1/auth/password-reset', { body: { email: text(values, 'email') ?? '' } }),
            );
            setMessage(answer.message);
          }}
        >
          <Field name="email" label="E-mail" type="email" autoComplete="username" required />
        </Form>
      )}
      <p>
        <a href={href('/sign-in')}>Back to sign in</a>
      </p>
    </main>
  );
}

/** Opens a reset link: choose a new password; every session of the account ends. */
export function ResetPasswordScreen({ token }: { token: string }) {
  useTitle('Choose a new password');
  const kept = useLinkToken(token, '/reset-password');
  const [done, setDone] = useState<{ mfaEnabled: boolean }>();
  return (
    <main id="main" class="narrow">
      <h1>Choose a new password</h1>
      {done ? (
        <>
          <Notice>
            {`Your password was changed and every session was signed out. Sign in with the new password${
              done.mfaEnabled ? ' and a code from your authenticator app' : ''
            }.`}
          </Notice>
          <p>
            <a href={href('/sign-in')}>Sign in</a>
          </p>
        </>
      ) : (
        <Form
          label="Choose a new password"
          submitLabel="Set new password"
          busyLabel="Saving…"
          onSubmit={async (values) => {
            const answer = ok(
              await api.POST('/v1/auth/password-reset/confirm', {
                body: { token: kept, newPassword: raw(values, 'newPassword') },
              }),
            );
            setDone({ mfaEnabled: answer.mfaEnabled });
          }}
        >
          <Field
            name="newPassword"
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="12 to 256 characters; a passphrase of several words is easiest to remember."
            required
          />
        </Form>
      )}
    </main>
  );
}

/**
 * Opens a link-confirmation mail (an identity provider signed in with this account's address): the
 * account's password (and, with MFA on, a code) links it; nothing happens without them.
 */
export function ConfirmSsoLinkScreen({ token }: { token: string }) {
  useTitle('Link an identity provider');
  const kept = useLinkToken(token, '/confirm-sso-link');
  const [done, setDone] = useState(false);
  return (
    <main id="main" class="narrow">
      <h1>Link an identity provider</h1>
      {done ? (
        <>
          <Notice>The identity provider is linked: it now signs you in to this account.</Notice>
          <p>
            <a href={href('/sign-in')}>Continue</a>
          </p>
        </>
      ) : (
        <>
          <Notice tone="warn">
            Only continue if you just tried to sign in through that identity provider yourself. If not, close
            this page: someone else may have registered your address there.
          </Notice>
          <Form
            label="Confirm linking"
            submitLabel="Link it to my account"
            busyLabel="Linking…"
            onSubmit={async (values) => {
              const code = text(values, 'mfaCode');
              ok(
                await api.POST('/v1/auth/oidc/link/confirm', {
                  body: {
                    token: kept,
                    currentPassword: raw(values, 'currentPassword'),
                    ...(code ? { mfaCode: code } : {}),
                  },
                }),
              );
              setDone(true);
            }}
          >
            <Field
              name="currentPassword"
              label="Your Strongroom password"
              type="password"
              autoComplete="current-password"
              required
            />
            <Field
              name="mfaCode"
              label="Code from your authenticator app (only if two-step verification is on)"
              inputMode="numeric"
              autoComplete="one-time-code"
            />
          </Form>
        </>
      )}
    </main>
  );
}

/** Shown while the signed-in user's address is unverified: why it matters, and a new link on request. */
export function VerifyEmailBanner({ email }: { email: string }) {
  const action = useAction();
  const [sent, setSent] = useState<string>();
  return (
    <div class="banner">
      <Notice tone="warn">
        {sent ?? `Verify ${email} to create tenants and accept invitations: open the link we mailed you.`}
      </Notice>
      {action.problem && <ProblemAlert problem={action.problem} />}
      {!sent && (
        <button
          type="button"
          class="link"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              setSent(ok(await api.POST('/v1/me/email/verification')).message);
            })
          }
        >
          Send a new link
        </button>
      )}
    </div>
  );
}
