import type { Plan } from './plans.js';

const MINT = Symbol('tenant-scope-mint');

/**
 * Proof that the caller is a verified member of one tenant. Only the auth layer mints these
 * (through `mintTenantScope`, whose callers an architecture test restricts); every tenant
 * repository and key builder takes one, so reaching tenant data without it is a compile error.
 */
export class TenantScope {
  readonly tenantId: string;
  readonly userId: string;
  /** The tenant's plan when the scope was minted (audit retention follows it); undefined when not read. */
  readonly plan: Plan | undefined;

  private constructor(token: symbol, tenantId: string, userId: string, plan: Plan | undefined) {
    if (token !== MINT) throw new TypeError('TenantScope is created only by the auth layer');
    if (!tenantId) throw new TypeError('TenantScope needs a tenant id');
    this.tenantId = tenantId;
    this.userId = userId;
    this.plan = plan;
    Object.freeze(this);
  }

  /** @internal */
  static [MINT](tenantId: string, userId: string, plan: Plan | undefined): TenantScope {
    return new TenantScope(MINT, tenantId, userId, plan);
  }
}

/**
 * Creates a TenantScope from a verified membership. Reserved for the auth layer, tenant creation (the
 * creator's membership is written in the same transaction) and accepting an invitation read back and found
 * addressed to the caller (the membership is written under conditions that re-check it);
 * test/unit/architecture.test.ts fails if any other module calls it.
 */
export function mintTenantScope(verified: { tenantId: string; userId: string; plan?: Plan }): TenantScope {
  return TenantScope[MINT](verified.tenantId, verified.userId, verified.plan);
}

/** Throws unless `scope` is a real TenantScope (guards against `as any` and plain objects). */
export function assertTenantScope(scope: unknown): asserts scope is TenantScope {
  if (!(scope instanceof TenantScope)) throw new TypeError('A TenantScope is required to reach tenant data');
}

/** Primary key of a tenant item; throws at run time without a real scope. */
export function tenantKey(scope: TenantScope, sk: string): { pk: string; sk: string } {
  assertTenantScope(scope);
  if (!sk) throw new TypeError('A sort key is required');
  return { pk: scope.tenantId, sk };
}
