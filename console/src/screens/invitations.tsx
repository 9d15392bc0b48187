import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { href } from '../app/router';
import { useSession } from '../app/session';
import { useAction, useLoad, useTitle } from '../components/hooks';
import { Loading, Notice, ProblemAlert, When } from '../components/status';

/** Invitations addressed to the signed-in user: accept or decline. */
export function InvitationsScreen() {
  useTitle('Invitations');
  const { refresh } = useSession();
  const invitations = useLoad(async () => ok(await api.GET('/v1/me/invitations')).items, []);
  const action = useAction();
  const [joined, setJoined] = useState<{ tenantId: string; name: string }>();
  const [declined, setDeclined] = useState(false);
  return (
    <>
      <h1>Invitations</h1>
      {joined && (
        <Notice>
          You joined <a href={href(`/t/${joined.tenantId}`)}>{joined.name}</a>.
        </Notice>
      )}
      {declined && <Notice>Invitation declined.</Notice>}
      <ProblemAlert problem={action.problem ?? invitations.problem} />
      {invitations.loading && !invitations.data ? (
        <Loading />
      ) : invitations.data?.length ? (
        <ul class="cards">
          {invitations.data.map((invitation) => (
            <li key={invitation.invitationId} class="card">
              <h2>{invitation.tenant.name}</h2>
              <p>
                {invitation.invitedBy.name} ({invitation.invitedBy.email}) invited you as{' '}
                <strong>{invitation.role}</strong>. Expires <When iso={invitation.expiresAt} />.
              </p>
              <div class="row">
                <button
                  type="button"
                  class="primary"
                  disabled={action.busy}
                  onClick={() =>
                    action.run(async () => {
                      const result = ok(
                        await api.POST('/v1/me/invitations/{invitationId}/accept', {
                          params: { path: { invitationId: invitation.invitationId } },
                        }),
                      );
                      setJoined(result.tenant);
                      await refresh();
                      await invitations.reload();
                    })
                  }
                >
                  Accept invitation to {invitation.tenant.name}
                </button>
                <button
                  type="button"
                  disabled={action.busy}
                  onClick={() =>
                    action.run(async () => {
                      ok(
                        await api.POST('/v1/me/invitations/{invitationId}/decline', {
                          params: { path: { invitationId: invitation.invitationId } },
                        }),
                      );
                      setDeclined(true);
                      await invitations.reload();
                    })
                  }
                >
                  Decline
                </button>
              </div>
            </li>
          ))}
        </ul>
      ) : (
        <p>No pending invitations.</p>
      )}
    </>
  );
}
