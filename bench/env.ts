/**
 * The variables handler modules require at load, for loading a function's bundle on this machine (the
 * bench's cold starts, the bundle tests' link check): fake values, since nothing is called during init.
 */
const ACCOUNT = '123456789012';
const REGION = 'eu-central-1';
export const BENCH_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'strongroom-bench',
  AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  POWERTOOLS_SERVICE_NAME: 'strongroom',
  POWERTOOLS_METRICS_NAMESPACE: 'Strongroom',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  // Lambda runs Node 22, where the SDK prints no warning about the Node version. Here it would, at the
  // baseline's cold start only (the one bundle that builds a client at load).
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  STAGE: 'bench',
  IDENTITY_TABLE: 'bench-identity',
  TENANT_DATA_TABLE: 'bench-tenant-data',
  AUDIT_TABLE: 'bench-audit',
  AUDIT_CHAIN_TABLE: 'bench-audit-chain',
  TENANT_DATA_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-tenant-data`,
  AUDIT_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-audit`,
  AUDIT_CHAIN_TABLE_ARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/bench-audit-chain`,
  AUDIT_MAC_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000002`,
  TENANT_DATA_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/bench-tenant-data`,
  PLATFORM_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`,
  TENANT_STORAGE_BOUNDARY_ARN: `arn:aws:iam::${ACCOUNT}:policy/strongroom-bench-${REGION}-tenant-storage-boundary`,
  STORAGE_BUCKET: 'bench-storage',
  EXPORT_BUCKET: 'bench-exports',
  TENANT_KEY_USER_ROLE_ARNS: `arn:aws:iam::${ACCOUNT}:role/bench-functions`,
  TENANT_EXPORT_ROLE_ARNS: `arn:aws:iam::${ACCOUNT}:role/bench-tenants`,
  STORAGE_KEY_ARN: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000001`,
  // The mail port (auth and tenants send mail: verification, reset, invitations, notices).
  MAIL_FROM: 'Strongroom <no-reply@bench.example.com>',
  CONSOLE_URL: 'https://bench.example.com/console/',
};
