import { describe, expect, it } from 'vitest';
import * as z from '../../../shared/domain/zod.js';
import { fieldErrors } from '../../../shared/http/api.js';
import { createStorageLocation } from '../../../shared/schemas/storage.js';

const body = createStorageLocation.body!;
const pathsOf = (input: unknown) => {
  const result = body.safeParse(input);
  return result.success ? [] : fieldErrors('body', result.error).map((e) => e.path);
};

describe('fieldErrors on a body that is one of several shapes', () => {
  it.each([
    [
      { root: 's3://b/p', roleArn: 'arn:aws:iam::123456789012:role/r', previousKmsKeyArns: 'x' },
      'body.previousKmsKeyArns',
    ],
    [{ root: 's3://b/p', roleArn: 'arn:aws:iam::123456789012:role/r', kmsKeyArn: 42 }, 'body.kmsKeyArn'],
    [{ root: 's3://b/p', roleArn: 'nope' }, 'body.roleArn'],
    [{ managed: true, extra: 1 }, 'body.extra'],
  ])('names the field of the closest shape: %j → %s', (input, path) => {
    // Act / Assess
    expect(pathsOf(input)).toEqual([path]);
  });

  it('names a field nested in a union inside an object', () => {
    // Prepare: a union two levels down
    const schema = z.object({ outer: z.object({ location: z.union([z.literal('a'), z.number()]) }) });
    const result = schema.safeParse({ outer: { location: 'b' } });

    // Act
    const paths = fieldErrors('query', result.error!).map((e) => e.path);

    // Assess
    expect(paths).toEqual(['query.outer.location']);
  });
});
