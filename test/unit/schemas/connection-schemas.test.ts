import { describe, expect, it } from 'vitest';
import { fieldErrors } from '../../../shared/http/api.js';
import { CreateConnectionBody, UpdateConnectionBody } from '../../../shared/schemas/connections.js';

// A self-signed test CA (P-256), generated for these tests; its key was discarded.
const CA = `-----BEGIN CERTIFICATE-----
MIIBkDCCATWgAwIBAgIUYWtcfS4XqI/XMJCMM1FKmL8n2wswCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSU3Ryb25ncm9vbSBUZXN0IENBMB4XDTI2MTEyMjEyMDQ0N1oX
DTM2MTExOTEyMDQ0N1owHTEbMBkGA1UEAwwSU3Ryb25ncm9vbSBUZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEI7jaTjaUmcI4Mb4R2gm3AflVowMgmZS9
w1GF3teDHv7i0Wws2gF7851Uva5uBDvYWlw0MA6UnC7Gu+kb9ZwEKaNTMFEwHQYD
VR0OBBYEFLKzsY4iCqmDy3CVtola3mpkaA3OMB8GA1UdIwQYMBaAFLKzsY4iCqmD
y3CVtola3mpkaA3OMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIh
AMzusQCe/EW7O2+4kZtyZzag2Vt1ArBKPZPYnhdNXe+eAiEA6QS2LOE/RTVRC964
LNGe//6cpyhc2EEbtiIx09SsiZM=
-----END CERTIFICATE-----`;

const valid = { name: 'Warehouse', host: 'db.example.com', database: 'app', user: 'reader', password: 'pw' };

function errorsOf(schema: typeof CreateConnectionBody | typeof UpdateConnectionBody, input: unknown) {
  const result = schema().safeParse(input);
  return result.success ? [] : [...new Set(fieldErrors('body', result.error).map((e) => e.path))];
}

describe('connection bodies', () => {
  it('defaults port 5432 and tlsMode require', () => {
    // Act / Assess
    expect(CreateConnectionBody().parse(valid)).toMatchObject({ port: 5432, tlsMode: 'require' });
  });

  it('accepts a PEM certificate or bundle, and nothing else in that field', () => {
    // Act / Assess: one certificate and a bundle pass; each bad value is named by the field
    expect(errorsOf(CreateConnectionBody, { ...valid, tlsMode: 'verify-full', caCertificate: CA })).toEqual(
      [],
    );
    expect(errorsOf(CreateConnectionBody, { ...valid, caCertificate: `${CA}\n${CA}\n` })).toEqual([]);
    for (const bad of [
      'not a pem',
      `${CA}\ntrailing`,
      `-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----`,
      CA.replace('MIIBkDCC', 'MIIBkDXX'),
      CA.repeat(101),
    ])
      expect(errorsOf(CreateConnectionBody, { ...valid, caCertificate: bad })).toEqual([
        'body.caCertificate',
      ]);
  });

  it('bounds Postgres names by bytes and refuses control characters', () => {
    // Act / Assess: 32 two-byte characters are 64 bytes, one too many; 63 ASCII bytes fit
    expect(errorsOf(CreateConnectionBody, { ...valid, database: 'é'.repeat(32) })).toEqual(['body.database']);
    expect(errorsOf(CreateConnectionBody, { ...valid, user: 'a\u0000b' })).toEqual(['body.user']);
    expect(errorsOf(CreateConnectionBody, { ...valid, schema: 'x\ny' })).toEqual(['body.schema']);
    expect(errorsOf(CreateConnectionBody, { ...valid, database: 'd'.repeat(63) })).toEqual([]);
  });

  it('names every bad field', () => {
    // Act / Assess
    expect(
      errorsOf(CreateConnectionBody, {
        ...valid,
        port: 0,
        tlsMode: 'prefer',
        password: '',
        host: '',
        rules: { readOnly: 'yes' },
        extra: true,
      }).sort(),
    ).toEqual([
      'body.extra',
      'body.host',
      'body.password',
      'body.port',
      'body.rules.readOnly',
      'body.tlsMode',
    ]);
    expect(errorsOf(CreateConnectionBody, { ...valid, password: 'p'.repeat(1025) })).toEqual([
      'body.password',
    ]);
  });

  it('takes a partial update, null to clear, and refuses an empty one', () => {
    // Act / Assess
    expect(errorsOf(UpdateConnectionBody, { rules: null, caCertificate: null, schema: null })).toEqual([]);
    expect(errorsOf(UpdateConnectionBody, {})).toEqual(['body']);
    expect(errorsOf(UpdateConnectionBody, { password: null })).toEqual(['body.password']);
    expect(errorsOf(UpdateConnectionBody, { connectionId: 'c_x' })).toEqual(['body.connectionId']);
  });
});
