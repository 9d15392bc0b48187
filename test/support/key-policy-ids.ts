/** The account, tenants, roles and key the KMS key-policy unit tests build their policies from. */
export const ACCOUNT = '111122223333';
export const TENANT = 't_01jabcdefghjkmnpqrstvwxyz0';
export const OTHER_TENANT = 't_01jabcdefghjkmnpqrstvwxyz1';
export const CONNECTIONS_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-connections`;
/** A runtime role that is no user of tenant keys. */
export const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/strongroom-storage`;
export const KEY_ARN = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
