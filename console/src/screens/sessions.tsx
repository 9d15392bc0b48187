import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { useAction, useLoad, useTitle } from '../components/hooks';
import { Loading, Notice, ProblemAlert, TableRegion, When } from '../components/status';

const METHOD: Record<string, string> = {
  password: 'Password',
  'password+totp': 'Password and authenticator code',
  'password+recovery-code': 'Password and recovery code',
};

/** The signed-in user's sessions, with revoke one and revoke all others. */
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
          <TableRegion label="Your sessions">
            <table>
              <caption class="visually-hidden">Your sessions</caption>
              <thead>
                <tr>
                  <th scope="col">Signed in</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Address</th>
                  <th scope="col">Browser or program</th>
                  <th scope="col">How</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
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
              </tbody>
            </table>
          </TableRegion>
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
    </>
  );
}
