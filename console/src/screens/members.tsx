import { useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api/client';
import { canGrantRole, granterOfRole, ROLES, type Role } from '../app/permissions';
import { useSession } from '../app/session';
import { useTenant } from '../app/tenant';
import { Field, Form, SelectField, text } from '../components/form';
import { useAction, useTitle } from '../components/hooks';
import { MoreButton, useTenantPages } from '../components/pager';
import { ConfirmRemoval, RemoveButton } from '../components/secrets';
import { DataTable, Loading, Notice, ProblemAlert, Section, When } from '../components/status';

/** Members and invitations of a tenant. */
export function MembersScreen() {
  const { tenant, role, can } = useTenant();
  useTitle('Members', tenant.name);
  const tenantId = tenant.tenantId;
  // Only the roles this viewer may grant are offered (the API applies the same rule).
  const grantable = ROLES.filter((r) => canGrantRole(granterOfRole(role), r));
  const members = useTenantPages('/v1/tenants/{tenantId}/members', tenantId);
  const invitations = useTenantPages('/v1/tenants/{tenantId}/invitations', tenantId, can('members:manage'));
  const [invited, setInvited] = useState<string>();
  return (
    <>
      <h1>Members</h1>
      <ProblemAlert problem={members.problem} />
      {!members.items ? (
        <Loading />
      ) : (
        <MemberTable members={members.items} grantable={grantable} onChanged={members.reload} />
      )}
      <MoreButton pager={members} label="More members" />
      {can('members:manage') && grantable.length > 0 && (
        <Section title="Invite someone" id="invite">
          <p>
            They become a member when they accept (within 7 days). The answer is the same whether or not the
            address has an account.
          </p>
          {invited && <Notice>Invitation sent to {invited}.</Notice>}
          <Form
            label="Invite a member"
            submitLabel="Send invitation"
            busyLabel="Inviting…"
            resetOnSuccess
            onSubmit={async (values) => {
              const invitation = ok(
                await api.POST('/v1/tenants/{tenantId}/members', {
                  params: { path: { tenantId } },
                  body: {
                    email: text(values, 'email') ?? '',
                    role: (text(values, 'role') ?? 'viewer') as Role,
                  },
                }),
              );
              setInvited(invitation.email);
              await invitations.reload();
            }}
          >
            <Field name="email" label="E-mail" type="email" autoComplete="off" required />
            <SelectField name="role" label="Role" options={grantable} defaultValue={grantable[0]} />
          </Form>
        </Section>
      )}
      {can('members:manage') && (
        <Section title="Pending invitations" id="invitations">
          <InvitationList items={invitations.items} tenantId={tenantId} onChanged={invitations.reload} />
          <MoreButton pager={invitations} label="More invitations" />
        </Section>
      )}
    </>
  );
}

function MemberTable(props: {
  members: Schemas['Member'][];
  grantable: Role[];
  onChanged: () => Promise<void>;
}) {
  const { tenant, can } = useTenant();
  const { me } = useSession();
  const action = useAction();
  const [removing, setRemoving] = useState<Schemas['Member']>();
  const [notice, setNotice] = useState<string>();
  const manageable = (member: Schemas['Member']) =>
    can('members:manage') && member.userId !== me.user.userId && props.grantable.includes(member.role);
  const path = (userId: string) => ({ params: { path: { tenantId: tenant.tenantId, userId } } });
  return (
    <>
      {notice && <Notice>{notice}</Notice>}
      <ProblemAlert problem={action.problem} />
      <DataTable
        label={`Members of ${tenant.name}`}
        columns={['Name', 'E-mail', 'Role', 'Member since']}
        actions
      >
        {props.members.map((member) => (
          <tr key={member.userId}>
            <td>
              {member.name}
              {member.userId === me.user.userId && <span class="badge">you</span>}
            </td>
            <td>{member.email}</td>
            <td>
              {manageable(member) ? (
                <select
                  aria-label={`Role of ${member.name}`}
                  value={member.role}
                  disabled={action.busy}
                  onChange={(event) => {
                    const next = (event.currentTarget as HTMLSelectElement).value as Role;
                    void action.run(async () => {
                      ok(
                        await api.PATCH('/v1/tenants/{tenantId}/members/{userId}', {
                          ...path(member.userId),
                          body: { role: next },
                        }),
                      );
                      setNotice(`${member.name} is now ${next}.`);
                      await props.onChanged();
                    });
                  }}
                >
                  {props.grantable.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              ) : (
                member.role
              )}
            </td>
            <td>
              <When iso={member.addedAt} />
            </td>
            <td>
              {manageable(member) && (
                <RemoveButton
                  label={`Remove ${member.name}`}
                  busy={action.busy}
                  onClick={() => setRemoving(member)}
                />
              )}
            </td>
          </tr>
        ))}
      </DataTable>
      <ConfirmRemoval
        item={removing}
        title="Remove member"
        confirmLabel="Remove"
        onClose={() => setRemoving(undefined)}
        onConfirm={(member) => {
          void action.run(async () => {
            ok(await api.DELETE('/v1/tenants/{tenantId}/members/{userId}', path(member.userId)));
            setNotice(`${member.name} was removed; their API keys stop working.`);
            await props.onChanged();
          });
        }}
      >
        <p>
          Remove {removing?.name} ({removing?.email}) from {tenant.name}? Their API keys stop working.
        </p>
      </ConfirmRemoval>
    </>
  );
}

function InvitationList(props: {
  items: Schemas['Invitation'][] | undefined;
  tenantId: string;
  onChanged: () => Promise<void>;
}) {
  const action = useAction();
  if (!props.items) return <Loading />;
  if (props.items.length === 0) return <p>No pending invitations.</p>;
  return (
    <>
      <ProblemAlert problem={action.problem} />
      <ul class="plain">
        {props.items.map((invitation) => (
          <li key={invitation.invitationId} class="row">
            <span>
              <strong>{invitation.email}</strong> as {invitation.role}, invited by {invitation.invitedBy.name}
              , expires <When iso={invitation.expiresAt} />
            </span>
            <button
              type="button"
              disabled={action.busy}
              aria-label={`Withdraw the invitation to ${invitation.email}`}
              onClick={() =>
                action.run(async () => {
                  ok(
                    await api.DELETE('/v1/tenants/{tenantId}/invitations/{invitationId}', {
                      params: { path: { tenantId: props.tenantId, invitationId: invitation.invitationId } },
                    }),
                  );
                  await props.onChanged();
                })
              }
            >
              Withdraw
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
