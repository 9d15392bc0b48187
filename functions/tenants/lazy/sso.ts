import { guardedFetch } from '../../../shared/connectors/outbound-http.js';
import { envelopeCipherFor } from '../../../shared/crypto/envelope.js';
import { TenantSsoService } from '../../../shared/services/tenant-sso.js';
import { TenantSsoStore } from '../../../shared/store/tenant-sso-store.js';
import type { TenantsInit } from './init.js';

/**
 * A tenant's own IdP: its client secret is encrypted under the tenant's key (the key policy lets this role
 * only make such ciphertexts), its issuer checked by discovery without reaching private networks.
 */
export function tenantSsoServiceFor(init: TenantsInit): TenantSsoService {
  const { runtime, audit, hostPolicy } = init;
  const cipher = envelopeCipherFor(runtime);
  return new TenantSsoService({
    store: new TenantSsoStore(init.tenantClients, runtime.require('tenantDataTable')),
    audit,
    encrypt: (owner, binding, plaintext) => cipher.encrypt(owner, binding, plaintext),
    fetch: guardedFetch(hostPolicy),
    hostPolicy,
  });
}
