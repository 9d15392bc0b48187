/**
 * The one registry of the functions' environment variables. Read once per function, by its runtime
 * (shared/aws/runtime.ts) at module load; a missing required variable throws then, so a misconfigured
 * function fails at once. Infra and local provisioning name the variables they set from here too.
 */
export const ENV_VARS = {
  stage: 'STAGE',
  region: 'AWS_REGION',
  identityTable: 'IDENTITY_TABLE',
  tenantDataTable: 'TENANT_DATA_TABLE',
  auditTable: 'AUDIT_TABLE',
  /** The audit chain table (chain records, heads, checkpoints): written only by the sequencer and daily job. */
  auditChainTable: 'AUDIT_CHAIN_TABLE',
  /** ARNs of the tenant tables, for the per-tenant session policy. */
  tenantDataTableArn: 'TENANT_DATA_TABLE_ARN',
  auditTableArn: 'AUDIT_TABLE_ARN',
  auditChainTableArn: 'AUDIT_CHAIN_TABLE_ARN',
  /** The HMAC KMS key that authenticates audit chain heads and checkpoints. */
  auditMacKeyArn: 'AUDIT_MAC_KEY_ARN',
  tenantDataRoleArn: 'TENANT_DATA_ROLE_ARN',
  platformKeyArn: 'PLATFORM_KEY_ARN',
  /**
   * The permissions boundary every tenant storage role carries (a managed policy of the stateful stack); its
   * ARN also gives the account and partition of those roles.
   */
  tenantStorageBoundaryArn: 'TENANT_STORAGE_BOUNDARY_ARN',
  storageBucket: 'STORAGE_BUCKET',
  /** The managed storage bucket's own KMS key: vended managed-location sessions may use it through S3. */
  storageKeyArn: 'STORAGE_KEY_ARN',
  exportBucket: 'EXPORT_BUCKET',
  /**
   * The secret CloudFront sends to the API in x-strongroom-origin-verify (shared/http/client-ip.ts); only
   * then is its CloudFront-Viewer-Address trusted. Unset in local mode: the header is never trusted there.
   */
  originVerifySecret: 'ORIGIN_VERIFY_SECRET',
  /**
   * Roles allowed to use tenant keys (comma-separated ARNs): the functions that encrypt or decrypt tenant
   * data. Read only by `tenantKeysFor`; infra and local provisioning set it.
   */
  tenantKeyUserRoleArns: 'TENANT_KEY_USER_ROLE_ARNS',
  /**
   * Roles that write tenant export archives (SSE-KMS under the tenant key, in EXPORT_BUCKET) and sign their
   * download URLs (comma-separated ARNs). With EXPORT_BUCKET set, new tenant keys carry the policy statement
   * that lets S3 use them for those archives only (shared/domain/key-policy.ts `ExportArchivesViaS3`).
   */
  tenantExportRoleArns: 'TENANT_EXPORT_ROLE_ARNS',
  tenantKeyAdminRoleArn: 'TENANT_KEY_ADMIN_ROLE_ARN',
  /**
   * Roles that encrypt (comma-separated ARNs; the tenants function) and decrypt (the auth function) a tenant
   * IdP's client secret. With both set, new tenant keys carry the statements that allow exactly that
   * (shared/domain/key-policy.ts `OidcClientSecretEncrypt` / `OidcClientSecretDecrypt`).
   */
  tenantOidcSecretEncryptRoleArns: 'TENANT_OIDC_SECRET_ENCRYPT_ROLE_ARNS',
  tenantOidcSecretDecryptRoleArns: 'TENANT_OIDC_SECRET_DECRYPT_ROLE_ARNS',
  /**
   * Roles that encrypt and decrypt the key pairs of S3-compatible stores (comma-separated ARNs; the storage
   * function). When set, new tenant keys carry `StoreKeyPairUse` (shared/domain/key-policy.ts).
   */
  tenantStoreKeyRoleArns: 'TENANT_STORE_KEY_ROLE_ARNS',
  allowPrivateNetworks: 'ALLOW_PRIVATE_NETWORKS',
  /** Bound of a warm vending function's credential cache (entries; default 2000; 0 turns it off). */
  storageCredentialCacheEntries: 'STORAGE_CREDENTIAL_CACHE_ENTRIES',
  /** The sender of every mail: an address of the stage's SES identity (`Strongroom <no-reply@domain>`). */
  mailFrom: 'MAIL_FROM',
  /**
   * Only in local mode and tests: an `smtp://host:port` URL of a local inbox (MailDev). Unset in AWS, where
   * mail goes through SES.
   */
  mailSmtpUrl: 'MAIL_SMTP_URL',
  /** The console's base URL (`https://host/console/`): where the links in mails point. */
  consoleUrl: 'CONSOLE_URL',
  /**
   * The WebAuthn relying party id passkeys are bound to; by default the host of CONSOLE_URL. Local mode
   * sets `localhost` (browsers refuse an IP address as a relying party id).
   */
  passkeyRpId: 'PASSKEY_RP_ID',
  /**
   * The origins (comma-separated) whose passkey ceremonies are accepted; by default CONSOLE_URL's origin.
   */
  passkeyOrigins: 'PASSKEY_ORIGINS',
  /**
   * The platform's OpenID providers: a JSON array of `{id, name, issuer, clientId, clientSecretArn,
   * algorithm?}` (shared/domain/oidc.ts), from CDK context or local mode's providers file. Names only:
   * each client secret stays in Secrets Manager and is read when a flow needs it. Unset: no providers.
   */
  oidcProviders: 'OIDC_PROVIDERS',
  /**
   * `on`: X-Ray subsegments for each request's handler and each AWS call (the Powertools tracer, loaded at
   * init; shared/aws/runtime.ts). Unset (the default): the tracer is not loaded, which keeps about 120 KiB
   * and its initialisation out of every cold start; Lambda's active tracing still records each invocation.
   */
  tracing: 'STRONGROOM_TRACING',
  /** Only in local mode and tests: the emulator's endpoint. Unset in AWS. */
  endpoint: 'AWS_ENDPOINT_URL',
} as const;

export type EnvName = keyof typeof ENV_VARS;
