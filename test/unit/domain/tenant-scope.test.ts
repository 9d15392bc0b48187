import { describe, expect, it } from 'vitest';
import { mintTenantScope, TenantScope, tenantKey } from '../../../shared/domain/tenant-scope.js';

describe('TenantScope', () => {
  it('builds keys in its own tenant partition', () => {
    const scope = mintTenantScope({ tenantId: 't_01jx0000000000000000000001', userId: 'u_1' });
    expect(tenantKey(scope, 'MEMBER#u_1')).toEqual({ pk: 't_01jx0000000000000000000001', sk: 'MEMBER#u_1' });
    expect(Object.isFrozen(scope)).toBe(true);
  });

  it('throws at run time without a real scope, whatever the types say', () => {
    expect(() => tenantKey(undefined as never, 'X')).toThrow(TypeError);
    expect(() => tenantKey({ tenantId: 't_x', userId: 'u' } as never, 'X')).toThrow(TypeError);
    expect(
      () => new (TenantScope as never as new (...a: unknown[]) => TenantScope)(Symbol('x'), 't', 'u'),
    ).toThrow(TypeError);
    expect(() => mintTenantScope({ tenantId: '', userId: 'u' })).toThrow(TypeError);
  });

  it('is a compile error to build a key without a scope', () => {
    // @ts-expect-error a tenant key needs a TenantScope
    expect(() => tenantKey('t_01jx0000000000000000000001', 'X')).toThrow(TypeError);
  });
});
