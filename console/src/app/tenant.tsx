import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Schemas } from '../api/client';
import type { Permission, Role } from './permissions';

export interface TenantState {
  tenant: Schemas['Tenant'];
  role: Role;
  /** Whether the viewer's session holds the permission here (buttons without it are not rendered). */
  can: (permission: Permission) => boolean;
  reload: () => Promise<void>;
}

export const TenantContext = createContext<TenantState | undefined>(undefined);

/** The tenant the current screen is about. */
export function useTenant(): TenantState {
  const tenant = useContext(TenantContext);
  if (!tenant) throw new Error('useTenant outside a tenant screen');
  return tenant;
}
