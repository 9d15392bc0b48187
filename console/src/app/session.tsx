import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { api, ok, type Schemas } from '../api/client';
import { type Permission, permissionsOf, type Role } from './permissions';

export type Me = {
  user: Schemas['User'];
  memberships: { tenantId: string; role: Role }[];
};

export interface SessionState {
  me: Me;
  /** Reads /v1/me again (after MFA changes, accepting an invitation, creating a tenant). */
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | undefined>(undefined);

/** The signed-in user; screens behind sign-in only. */
export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in screen');
  return session;
}

/** The viewer's role in a tenant, if they are a member. */
export function useRole(tenantId: string): Role | undefined {
  return useSession().me.memberships.find((m) => m.tenantId === tenantId)?.role;
}

/** Whether the viewer's session holds a permission in a tenant (buttons without it are not shown). */
export function useCan(tenantId: string): (permission: Permission) => boolean {
  const role = useRole(tenantId);
  return (permission) => (role ? permissionsOf(role).has(permission) : false);
}

export async function loadMe(): Promise<Me> {
  return ok(await api.GET('/v1/me'));
}

/** Signs in; throws the problem when it fails (`mfa-required` asks for the second factor). */
export async function signIn(body: {
  email: string;
  password: string;
  mfaCode?: string;
  recoveryCode?: string;
}): Promise<void> {
  // The API answers with an HttpOnly cookie and no token in the body.
  ok(await api.POST('/v1/auth/login', { body: { ...body, session: 'cookie' } }));
}

export async function signOutNow(): Promise<void> {
  // The API revokes the session and clears the cookie.
  await api.POST('/v1/auth/logout');
}
