/**
 * The one answer for a path no location the caller may use contains, whether it is unregistered or another
 * tenant's: a different answer would tell strangers which paths are registered.
 */
export const PATH_NOT_FOUND = 'No storage location you may use contains that path.';
