import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { useAction, useLoad, useTitle } from '../components/hooks';
import { MoreButton, usePaged } from '../components/pager';
import { DataTable, Loading, Notice, ProblemAlert, When } from '../components/status';

const METHOD: Record<string, string> = {
  password: 'Password',
  'password+totp': 'Password and authenticator code',
  'password+recovery-code': 'Password and recovery code',
  passkey: 'Passkey',
  sso: 'Identity provider',
  'sso+totp': 'Identity provider and authenticator code',
  'sso+recovery-code': 'Identity provider and recovery code',
};

const RESULT: Record<string, string> = {
  succeeded: 'Signed in',
  failed: 'Failed',
  'second-factor-required': 'Right password, code asked for',
};

const BADGE: Record<string, string> = { succeeded: 'ok', failed: 'bad', 'second-factor-required': 'warn' };

const REASON: Record<string, string> = {
  'bad-credentials': 'wrong password',
  'bad-second-factor': 'wrong code',
  'credentials-changed': 'password or MFA changed meanwhile',
  'sso-state-invalid': 'unknown or used sign-in link',
  'sso-token-rejected': 'identity provider answer did not verify',
  'sso-email-unverified': 'provider did not verify the address',
  'sso-domain-not-allowed': 'address outside the tenant’s allowed domains',
  'sso-link-required': 'provider not linked to this account',
};

/** Sign-in attempts on the account in the last 90 days, newest first. */
function SignInHistory() {
  const history = usePaged(
    async (cursor) => ok(await api.GET('/v1/me/sign-ins', { params: { query: { cursor } } })),
    [],
  );
  return (
    <section aria-labelledby="sign-in-history">
      <h2 id="sign-in-history">Sign-in history</h2>
      <p>
        Every attempt to sign in to your account in the last 90 days. If you see one that was not you, change
        your password.
      </p>
      <ProblemAlert problem={history.problem} />
      {history.loading && !history.items ? (
        <Loading />
      ) : (
        <>
          <DataTable
            label="Sign-in attempts"
            columns={['When', 'Result', 'Address', 'Browser or program', 'How']}
          >
            {(history.items ?? []).map((attempt, index) => (
              <tr key={`${index}-${attempt.at}`}>
                <td>
                  <When iso={attempt.at} />
                </td>
                <td>
                  <span class={`badge ${BADGE[attempt.result] ?? 'warn'}`}>
                    {RESULT[attempt.result] ?? attempt.result}
                  </span>
                  {attempt.reason &&
                    ` (${attempt.method === 'passkey' && attempt.reason === 'bad-credentials' ? 'passkey not accepted' : (REASON[attempt.reason] ?? attempt.reason)})`}
                </td>
                <td class="mono">{attempt.ip}</td>
                <td class="wrap">{attempt.userAgent}</td>
                <td>{METHOD[attempt.method] ?? attempt.method}</td>
              </tr>
            ))}
          </DataTable>
          <MoreButton pager={history} label="Show older attempts" />
        </>
      )}
    </section>
  );
}

/** The signed-in user's sessions, with revoke one and revoke all others; then their sign-in history. */
export function SessionsScreen() {
  useTitle('Sessions');
  const sessions = useLoad(async () => ok(await api.GET('/v1/me/sessions')).items, []);
  const action = useAction();
  const [notice, setNotice] = useState<string>();
  const items = sessions.data ?? [];
  const others = items.filter((s) => !s.current).length;
  return (
    <>
      <h1>Sessions</h1>
      <p>Everywhere you are signed in. Revoke any session you do not recognise.</p>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={action.problem ?? sessions.problem} />
      {sessions.loading && !sessions.data ? (
        <Loading />
      ) : (
        <>
          <DataTable
            label="Your sessions"
            columns={['Signed in', 'Last seen', 'Address', 'Browser or program', 'How']}
            actions
          >
            {items.map((session) => (
              <tr key={session.sessionId}>
                <td>
                  <When iso={session.createdAt} />
                  {session.current && <span class="badge ok">This session</span>}
                </td>
                <td>
                  <When iso={session.lastSeenAt} />
                </td>
                <td class="mono">{session.ip}</td>
                <td class="wrap">{session.userAgent}</td>
                <td>{METHOD[session.authMethod] ?? session.authMethod}</td>
                <td>
                  {!session.current && (
                    <button
                      type="button"
                      disabled={action.busy}
                      aria-label={`Revoke the session from ${session.ip} signed in ${new Date(session.createdAt).toLocaleString()}`}
                      onClick={() =>
                        action.run(async () => {
                          ok(
                            await api.DELETE('/v1/me/sessions/{sessionId}', {
                              params: { path: { sessionId: session.sessionId } },
                            }),
                          );
                          setNotice('Session revoked.');
                          await sessions.reload();
                        })
                      }
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
          <p>
            <button
              type="button"
              class="danger"
              disabled={action.busy || others === 0}
              onClick={() =>
                action.run(async () => {
                  const { revoked } = ok(await api.DELETE('/v1/me/sessions'));
                  setNotice(`${revoked} other ${revoked === 1 ? 'session' : 'sessions'} revoked.`);
                  await sessions.reload();
                })
              }
            >
              Revoke all other sessions
            </button>
          </p>
        </>
      )}
      <SignInHistory />
    </>
  );
}
