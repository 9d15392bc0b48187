import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { guardedLookup } from '../../../shared/connectors/outbound-http.js';
import { checkStoreEndpoint } from '../../../shared/connectors/s3-compatible.js';

const AWS = { allowPrivateNetworks: false };
const LOCAL = { allowPrivateNetworks: true };
/** A resolver that answers `addresses` for every name (no real DNS in unit tests). */
const resolvesTo =
  (...addresses: string[]) =>
  async () =>
    addresses.map((address) => ({ address }));
const PUBLIC = resolvesTo('203.0.113.10');

describe('checkStoreEndpoint (S3-compatible store endpoints)', () => {
  it.each([
    ['http://minio.example.com', 'https'],
    ['https://169.254.169.254', 'link-local'],
    ['https://2852039166/', 'link-local'],
    ['https://0251.0376.0251.0376/', 'link-local'],
    ['https://0xa9fea9fe/', 'link-local'],
    ['https://[::ffff:169.254.169.254]/', ''],
    ['https://[fd00:ec2::254]/', ''],
    ['https://10.0.0.5/', ''],
    ['https://localhost:9000/', ''],
    ['https://minio.internal/', ''],
    ['https://user:pass@minio.example.com/', 'user name'],
    ['https://@minio.example.com/', 'user name'],
    ['https://minio.example.com/bucket', 'path'],
    ['https://minio.example.com/?x=1', 'query'],
    ['https://minio.example.com/?', 'query'],
    ['https://minio.example.com/#', 'fragment'],
    ['https://minio.example.com /', 'spaces'],
    ['https://minio.exa\tmple.com/', 'control'],
    ['minio.example.com', 'URL'],
    ['ftp://minio.example.com/', 'https'],
  ])('refuses %s in AWS mode', async (text, reason) => {
    // Act
    const checked = await checkStoreEndpoint(text, AWS, PUBLIC);
    // Assess
    expect(checked).toHaveProperty('problem');
    expect((checked as { problem: string }).problem).toContain(reason);
  });

  it.each([
    ['https://minio.example.com:22', '(not 22)'],
    ['https://minio.example.com:0', '(not 0)'],
    ['https://minio.example.com:1', '(not 1)'],
    ['https://minio.example.com:80', '(not 80)'],
    ['https://minio.example.com:1023/', '(not 1023)'],
    ['https://minio.example.com:00022', '(not 22)'],
    ['https://203.0.113.10:25', '(not 25)'],
    ['https://[2001:db8::1]:445', '(not 445)'],
    ['https://minio.example.com:65536', 'URL'],
    ['https://minio.example.com:-1', 'URL'],
  ])('refuses the port of %s (443 or 1024-65535 only)', async (text, reason) => {
    // Act
    const checked = await checkStoreEndpoint(text, AWS, PUBLIC);
    // Assess
    expect((checked as { problem: string }).problem).toContain(reason);
  });

  it('takes 443 however spelt and every port from 1024 to 65535; in local mode too, loopback gets no other ports', async () => {
    // Act / Assess
    for (const [text, origin] of [
      ['https://minio.example.com:443', 'https://minio.example.com'],
      ['https://minio.example.com:0443', 'https://minio.example.com'],
      ['https://minio.example.com:1024', 'https://minio.example.com:1024'],
      ['https://minio.example.com:8443', 'https://minio.example.com:8443'],
      ['https://minio.example.com:9000', 'https://minio.example.com:9000'],
      ['https://minio.example.com:65535', 'https://minio.example.com:65535'],
    ]) {
      expect(await checkStoreEndpoint(text!, AWS, PUBLIC), text).toEqual({ origin });
    }
    expect(await checkStoreEndpoint('http://127.0.0.1:22', LOCAL)).toEqual({
      problem: expect.stringContaining('(not 22)'),
    });
    expect(await checkStoreEndpoint('http://127.0.0.1:9000', LOCAL)).toEqual({
      origin: 'http://127.0.0.1:9000',
    });
  });

  it('refuses a public-looking name that resolves to the metadata service or a private address', async () => {
    // Act / Assess: whatever the name, the addresses decide
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '10.1.2.3', '127.0.0.1', '::ffff:a9fe:a9fe']) {
      const checked = await checkStoreEndpoint(
        'https://minio.example.com',
        AWS,
        resolvesTo('203.0.113.9', address),
      );
      expect(checked, address).toEqual({
        problem: expect.stringContaining(`resolves to a private or reserved address (${address})`),
      });
    }
    // The metadata service stays refused in local mode too
    expect(
      await checkStoreEndpoint('https://minio.example.com', LOCAL, resolvesTo('169.254.169.254')),
    ).toHaveProperty('problem');
  });

  it('answers the normalised origin of an acceptable endpoint', async () => {
    // Act / Assess
    expect(await checkStoreEndpoint('https://MinIO.Example.com:443/', AWS, PUBLIC)).toEqual({
      origin: 'https://minio.example.com',
    });
    expect(await checkStoreEndpoint('https://minio.example.com:9000', AWS, PUBLIC)).toEqual({
      origin: 'https://minio.example.com:9000',
    });
    // Local mode: plain http to loopback (the tests' second emulator), not elsewhere
    expect(await checkStoreEndpoint('http://127.0.0.1:9000', LOCAL)).toEqual({
      origin: 'http://127.0.0.1:9000',
    });
    expect(await checkStoreEndpoint('http://10.0.0.5:9000', LOCAL)).toHaveProperty('problem');
  });
});

describe('guardedLookup (connect-time address check)', () => {
  it('fails a connection whose name resolves to a refused address, and lets an allowed one through', async () => {
    // Prepare: a loopback server reached by name (localhost → loopback, refused outside local mode)
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const request = (policy: typeof AWS) =>
      new Promise<string>((resolve, reject) => {
        const agent = new Agent({ lookup: guardedLookup(policy) as never, family: 4 });
        get({ host: 'localhost', port, agent, family: 4 }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        }).on('error', reject);
      });
    try {
      // Act
      const refused = await request(AWS).catch((error: NodeJS.ErrnoException) => error.code);
      const allowed = await request(LOCAL);

      // Assess: refused before any byte was sent; allowed where private networks are
      expect(refused).toBe('EADDRNOTALLOWED');
      expect(allowed).toBe('200');
    } finally {
      server.close();
    }
  });
});
