import { describe, expectTypeOf, it } from 'vitest';
import type * as z from '../../../shared/domain/zod.js';
import type {
  Instance,
  RevocationOutcome as RevocationOutcomeSchema,
  StorageCredentials as StorageCredentialsSchema,
  StorageLocation as StorageLocationSchema,
  StorageValidation as StorageValidationSchema,
} from '../../../shared/schemas/storage.js';
import type {
  InstanceView,
  RevocationOutcome,
  StorageCredentials,
  StorageLocation,
  StorageValidation,
} from '../../../shared/sdk/types.js';

// The SDK's wire types are written out so the package carries no server code; `npm run typecheck` holds them
// equal to the route schemas, so a schema change that the SDK does not follow fails the build.
describe('SDK wire types', () => {
  it('equal the route schemas', () => {
    // Act / Assess: checked by the type checker, each SDK type against its schema's output
    expectTypeOf<StorageCredentials>().toEqualTypeOf<z.OutputOf<typeof StorageCredentialsSchema>>();
    expectTypeOf<StorageLocation>().toEqualTypeOf<z.OutputOf<typeof StorageLocationSchema>>();
    expectTypeOf<InstanceView>().toEqualTypeOf<z.OutputOf<typeof Instance>>();
    expectTypeOf<RevocationOutcome>().toEqualTypeOf<z.OutputOf<typeof RevocationOutcomeSchema>>();
    expectTypeOf<StorageValidation>().toEqualTypeOf<z.OutputOf<typeof StorageValidationSchema>>();
  });
});
