import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { type ApiProblem, api, ok, whenSignedOut } from './api/client';
import { finishOidcFlowFromUrl } from './app/oidc';
import { type Permission, permissionsOf } from './app/permissions';
import { href, match, navigate, usePath } from './app/router';
import { loadMe, type Me, SessionContext, signOutNow, useSession } from './app/session';
import { TenantContext, type TenantState } from './app/tenant';
import { useLoad } from './components/hooks';
import { Loading, ProblemAlert } from './components/status';
import { AccountScreen } from './screens/account';
import { ApiKeysScreen } from './screens/api-keys';
import { AuditScreen } from './screens/audit';
import { ConnectionsScreen } from './screens/connections';
import {
  ConfirmSsoLinkScreen,
  ForgotPasswordScreen,
  ResetPasswordScreen,
  VerifyEmailBanner,
  VerifyEmailScreen,
} from './screens/email-links';
import { InvitationsScreen } from './screens/invitations';
import { MembersScreen } from './screens/members';
import { SessionsScreen } from './screens/sessions';
import { SignInScreen } from './screens/sign-in';
import { SignUpScreen } from './screens/sign-up';
import { StorageScreen } from './screens/storage';
import { TenantOverviewScreen } from './screens/tenant-overview';
import { TenantsScreen } from './screens/tenants';
import './styles.css';

/** The screens of one tenant, in the order the tenant menu shows them, with what each needs to appear. */
const TENANT_SCREENS: { path: string; label: string; needs: Permission; screen: () => preact.JSX.Element }[] =
  [
    { path: '', label: 'Overview', needs: 'tenant:read', screen: TenantOverviewScreen },
    { path: 'members', label: 'Members', needs: 'members:read', screen: MembersScreen },
    { path: 'api-keys', label: 'API keys', needs: 'tenant:read', screen: ApiKeysScreen },
    { path: 'storage', label: 'Storage', needs: 'instances:read', screen: StorageScreen },
    { path: 'connections', label: 'Connections', needs: 'connections:read', screen: ConnectionsScreen },
    { path: 'audit', label: 'Audit log', needs: 'audit:read', screen: AuditScreen },
  ];

function App() {
  const [me, setMe] = useState<Me | null>();
  const [email, setEmail] = useState<string>();
  const [oidcProblem, setOidcProblem] = useState<ApiProblem>();
  const path = usePath();
  const refresh = useCallback(async () => {
    try {
      setMe(await loadMe());
    } catch {
      setMe(null);
    }
  }, []);
  useEffect(() => {
    whenSignedOut(() => setMe(null));
    // Back from an identity provider: finish that sign-in (or link) first.
    void finishOidcFlowFromUrl().then(async (outcome) => {
      if (outcome.kind === 'failed') setOidcProblem(outcome.problem);
      await refresh();
    });
  }, [refresh]);
  const signOut = useCallback(async () => {
    await signOutNow().catch(() => undefined);
    setMe(null);
    navigate('/sign-in');
  }, []);

  if (me === undefined) return <Loading label="Loading the console…" />;
  // Links from mails work signed in or not.
  const verifying = match('/verify-email/:token', path);
  if (verifying) return <VerifyEmailScreen token={verifying.token!} onVerified={refresh} />;
  const resetting = match('/reset-password/:token', path);
  if (resetting) return <ResetPasswordScreen token={resetting.token!} />;
  const linking = match('/confirm-sso-link/:token', path);
  if (linking) return <ConfirmSsoLinkScreen token={linking.token!} />;
  if (me === null) {
    if (path === '/forgot-password') return <ForgotPasswordScreen />;
    if (path === '/sign-up')
      return (
        <SignUpScreen
          onRegistered={(registered) => {
            setEmail(registered);
            navigate('/sign-in');
          }}
        />
      );
    return (
      <SignInScreen
        email={email}
        problem={oidcProblem}
        organisation={match('/sso/:tenantId', path)?.tenantId}
        onSignedIn={async () => {
          await refresh();
          if (path === '/sign-in' || path === '/sign-up' || path.startsWith('/sso/')) navigate('/');
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={{ me, refresh, signOut }}>
      <Shell path={path} />
    </SessionContext.Provider>
  );
}

function Shell({ path }: { path: string }) {
  const { me, signOut } = useSession();
  const tenantMatch = match('/t/:tenantId', path) ?? match('/t/:tenantId/:screen', path);
  const top: [string, string][] = [
    ['/', 'Tenants'],
    ['/invitations', 'Invitations'],
    ['/sessions', 'Sessions'],
    ['/account', 'Account'],
  ];
  let body: preact.JSX.Element;
  if (tenantMatch) body = <TenantArea tenantId={tenantMatch.tenantId!} screen={tenantMatch.screen ?? ''} />;
  else if (path === '/invitations') body = <InvitationsScreen />;
  else if (path === '/sessions') body = <SessionsScreen />;
  else if (path === '/account') body = <AccountScreen />;
  else body = <TenantsScreen />;
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href={href('/')}>
          Strongroom
        </a>
        <nav aria-label="Main">
          <ul>
            {top.map(([to, label]) => (
              <li key={to}>
                <a href={href(to)} aria-current={path === to ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="who-name">{me.user.name}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {!me.user.emailVerified && <VerifyEmailBanner email={me.user.email} />}
        {body}
      </main>
    </>
  );
}

function TenantArea({ tenantId, screen }: { tenantId: string; screen: string }) {
  const { me } = useSession();
  const role = me.memberships.find((m) => m.tenantId === tenantId)?.role;
  const tenant = useLoad(
    async () => ok(await api.GET('/v1/tenants/{tenantId}', { params: { path: { tenantId } } })),
    [tenantId],
  );
  if (!role) return <p>You are not a member of this tenant.</p>;
  if (tenant.problem && !tenant.data) return <ProblemAlert problem={tenant.problem} />;
  if (!tenant.data) return <Loading />;
  const held = permissionsOf(role);
  const state: TenantState = {
    tenant: tenant.data,
    role,
    can: (permission) => held.has(permission),
    reload: tenant.reload,
  };
  const screens = TENANT_SCREENS.filter((s) => held.has(s.needs));
  const current = screens.find((s) => s.path === screen);
  const Screen = current?.screen;
  return (
    <TenantContext.Provider value={state}>
      <nav class="tenant-nav" aria-label={`Tenant ${tenant.data.name}`}>
        <ul>
          {screens.map((s) => (
            <li key={s.path}>
              <a
                href={href(`/t/${tenantId}${s.path ? `/${s.path}` : ''}`)}
                aria-current={s.path === screen ? 'page' : undefined}
              >
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {Screen ? <Screen /> : <p>This screen does not exist, or your role cannot use it.</p>}
    </TenantContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
