import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { href } from '../app/router';
import { Field, Form, raw, text } from '../components/form';
import { useTitle } from '../components/hooks';
import { Notice } from '../components/status';

/**
 * Create an account. The API answers the same whether or not the address already had one (no account
 * enumeration), so the screen says exactly that and sends the person on to sign in.
 */
export function SignUpScreen({ onRegistered }: { onRegistered: (email: string) => void }) {
  useTitle('Create an account');
  const [done, setDone] = useState<{ email: string; message: string }>();
  if (done) {
    return (
      <main id="main" class="narrow">
        <h1>Account requested</h1>
        <Notice>{done.message}</Notice>
        <p>
          <button type="button" class="primary" onClick={() => onRegistered(done.email)}>
            Continue to sign in
          </button>
        </p>
      </main>
    );
  }
  return (
    <main id="main" class="narrow">
      <h1>Create an account</h1>
      <Form
        label="Create an account"
        submitLabel="Create account"
        busyLabel="Creating…"
        onSubmit={async (values) => {
          const email = text(values, 'email') ?? '';
          const answer = ok(
            await api.POST('/v1/auth/register', {
              body: { email, name: text(values, 'name') ?? '', password: raw(values, 'password') },
            }),
          );
          setDone({ email, message: answer.message });
        }}
      >
        <Field name="name" label="Name" autoComplete="name" required />
        <Field name="email" label="E-mail" type="email" autoComplete="username" required />
        <Field
          name="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="12 to 256 characters; a passphrase of several words is easiest to remember."
          required
        />
      </Form>
      <p>
        Already have an account? <a href={href('/sign-in')}>Sign in</a>
      </p>
    </main>
  );
}
