import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkConnectionHost,
  classifyAddress,
  isAddressAllowed,
  parseIPv4,
  parseIPv6,
} from '../../../shared/domain/connection-host.js';

const CLOSED = { allowPrivateNetworks: false };
const OPEN = { allowPrivateNetworks: true };

describe('checkConnectionHost', () => {
  it.each([
    ['db.example.com'],
    ['DB.Example.COM.'],
    ['8.8.8.8'],
    ['52.95.110.1'],
    ['2a00:1450:4001:82a::200e'],
    ['[2a00:1450:4001:82a::200e]'],
    ['my-db.eu-central-1.rds.amazonaws.com'],
  ])('allows the public host %s', (host) => {
    // Act / Assess
    expect(checkConnectionHost(host, CLOSED)).toMatchObject({ allowed: true, hostClass: 'public' });
  });

  it.each([
    // Cloud metadata and link-local, in every spelling.
    ['169.254.169.254'],
    ['169.254.170.2'],
    ['fd00:ec2::254'],
    ['[fd00:ec2::254]'],
    ['FD00:EC2:0:0:0:0:0:254'],
    ['::ffff:169.254.169.254'],
    ['::ffff:a9fe:a9fe'],
    ['64:ff9b::169.254.169.254'],
    ['::ffff:0:169.254.169.254'],
    ['::ffff:0:a9fe:a9fe'],
    ['64:ff9b:1::a9fe:a9fe'],
    ['64:ff9b:1:a9fe:a9fe::'],
    ['2002:a9fe:a9fe::1'],
    ['fe80::1'],
    ['fe80::1%eth0'],
    // Unspecified, multicast, reserved.
    ['0.0.0.0'],
    ['0.1.2.3'],
    ['::'],
    ['224.0.0.1'],
    ['255.255.255.255'],
    ['ff02::1'],
    ['::127.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    // Numeric spellings that resolvers turn into 127.0.0.1.
    ['127.1'],
    ['2130706433'],
    ['0x7f000001'],
    ['0x7f.0.0.1'],
    ['0177.0.0.1'],
    ['017700000001'],
    ['127.0.0.1.'],
    // Not host names.
    [''],
    ['a'.repeat(254)],
    ['db_1.example.com'],
    ['-db.example.com'],
    ['db..example.com'],
    ['http://db.example.com'],
    ['db.example.com:5432'],
    ['user@db.example.com'],
    ['db.example.com/x'],
    ['exa mple.com'],
    ['1:2:3:4:5:6:7:8:9'],
    ['1::2::3'],
  ])('always refuses %s', (host) => {
    // Act / Assess
    expect(checkConnectionHost(host, CLOSED).allowed).toBe(false);
    expect(checkConnectionHost(host, OPEN)).toMatchObject({ allowed: false, hostClass: 'blocked' });
  });

  it.each([
    ['127.0.0.1'],
    ['127.255.0.9'],
    ['::1'],
    ['[::1]'],
    ['::ffff:127.0.0.1'],
    ['10.0.0.5'],
    ['172.16.0.1'],
    ['172.31.255.255'],
    ['192.168.1.1'],
    ['100.64.0.1'],
    ['fd12:3456::1'],
    ['localhost'],
    ['LOCALHOST'],
    ['db.localhost'],
    ['postgres'],
    ['instance-data.ec2.internal'],
    ['metadata.google.internal'],
    ['printer.local'],
  ])('refuses the private or local host %s unless private networks are allowed', (host) => {
    // Act / Assess
    expect(checkConnectionHost(host, CLOSED)).toMatchObject({ allowed: false, hostClass: 'private' });
    expect(checkConnectionHost(host, OPEN)).toMatchObject({ allowed: true, hostClass: 'private' });
  });

  it('keeps neighbours of private ranges public', () => {
    // Act / Assess
    for (const host of [
      '172.15.255.255',
      '172.32.0.0',
      '11.0.0.0',
      '192.169.0.1',
      '100.128.0.1',
      '126.255.255.255',
    ])
      expect(checkConnectionHost(host, CLOSED)).toMatchObject({ allowed: true, hostClass: 'public' });
  });

  it('gives a reason naming what the address is', () => {
    // Act / Assess
    expect(checkConnectionHost('169.254.169.254', OPEN).reason).toMatch(/link-local/);
    expect(checkConnectionHost('127.1', OPEN).reason).toMatch(/non-standard/);
  });
});

describe('address parsing agrees with Node', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const v6 = fc.ipV6();

  it('parses every IPv4 Node accepts, to the same value', () => {
    // Act / Assess: for every dotted quad, the number Node's reading gives
    fc.assert(
      fc.property(v4, (address) => {
        const expected = address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(part), 0n);
        expect(parseIPv4(address)).toBe(expected);
      }),
    );
  });

  it('parses every IPv6 Node accepts, and classifies it as Node’s BlockList does for the blocked ranges', () => {
    // Prepare: Node's own lists of the link-local, multicast and unique-local ranges
    const blocked = new BlockList();
    blocked.addSubnet('fe80::', 10, 'ipv6');
    blocked.addSubnet('ff00::', 8, 'ipv6');
    const privateRanges = new BlockList();
    privateRanges.addSubnet('fc00::', 7, 'ipv6');

    // Act / Assess: for 2,000 addresses Node accepts
    fc.assert(
      fc.property(v6, (address) => {
        expect(isIP(address)).toBe(6);
        expect(parseIPv6(address)).not.toBeUndefined();
        const c = classifyAddress(address)!;
        if (blocked.check(address, 'ipv6')) expect(c.hostClass).toBe('blocked');
        if (privateRanges.check(address, 'ipv6') && !address.startsWith('fd00:ec2:'))
          expect(['private', 'blocked']).toContain(c.hostClass);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what Node rejects', () => {
    // Act / Assess: for 5,000 strings
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (text) => {
        if (isIP(text) === 0) {
          expect(parseIPv4(text)).toBeUndefined();
          expect(parseIPv6(text)).toBeUndefined();
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('checks resolved addresses for the connecting code (DNS rebinding)', () => {
    // Act / Assess
    expect(isAddressAllowed('93.184.216.34', CLOSED)).toBe(true);
    expect(isAddressAllowed('127.0.0.1', CLOSED)).toBe(false);
    expect(isAddressAllowed('127.0.0.1', OPEN)).toBe(true);
    expect(isAddressAllowed('169.254.169.254', OPEN)).toBe(false);
    expect(isAddressAllowed('not-an-ip', OPEN)).toBe(false);
  });
});
