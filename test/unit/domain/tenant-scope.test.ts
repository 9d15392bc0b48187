import { describe, expect, it } from 'vitest';
import { mintTenantScope, TenantScope, tenantKey } from '../../../shared/domain/tenant-scope.js';

describe('TenantScope', () => {
  it('builds keys in its own tenant partition', () => {
    // Prepare
    const scope = mintTenantScope({ tenantId: 't_01jx0000000000000000000001', userId: 'u_1' });

    // Act / Assess: the key is in the scope's partition, and the scope cannot be changed
    expect(tenantKey(scope, 'MEMBER#u_1')).toEqual({ pk: 't_01jx0000000000000000000001', sk: 'MEMBER#u_1' });
    expect(Object.isFrozen(scope)).toBe(true);
  });

  it('throws at run time without a real scope, whatever the types say', () => {
    // Act / Assess: no scope, a look-alike object, a forged constructor call, an empty tenant id
    expect(() => tenantKey(undefined as never, 'X')).toThrow(TypeError);
    expect(() => tenantKey({ tenantId: 't_x', userId: 'u' } as never, 'X')).toThrow(TypeError);
    expect(
      () => new (TenantScope as never as new (...a: unknown[]) => TenantScope)(Symbol('x'), 't', 'u'),
    ).toThrow(TypeError);
    expect(() => mintTenantScope({ tenantId: '', userId: 'u' })).toThrow(TypeError);
  });

  it('is a compile error to build a key without a scope', () => {
    // Act / Assess: the type checker refuses the call (the directive fails typecheck if it did not), and so does the run
    // @ts-expect-error a tenant key needs a TenantScope
    expect(() => tenantKey('t_01jx0000000000000000000001', 'X')).toThrow(TypeError);
  });
});
