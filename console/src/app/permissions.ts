/**
 * The permission table is the API's own (one source of truth): the console only hides what a role cannot
 * use; the API refuses it regardless.
 */
export {
  canGrantRole,
  granterOfRole,
  PERMISSIONS,
  type Permission,
  permissionsOf,
  ROLES,
  type Role,
} from '../../../shared/domain/permissions.js';
export { PLANS } from '../../../shared/domain/plans.js';
