import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  guardedFetch,
  OutboundRefusedError,
  outboundUrlShapeProblem,
} from '../../../shared/connectors/outbound-http.js';

const AWS = { allowPrivateNetworks: false };
const LOCAL = { allowPrivateNetworks: true };

describe('outbound requests to addresses a tenant chose (a tenant IdP)', () => {
  it.each([
    ['http://idp.example.com/', 'https'],
    ['ftp://idp.example.com/', 'https'],
    ['http://127.0.0.1:8080/', 'https'],
    ['https://169.254.169.254/latest/meta-data/', 'link-local'],
    ['https://[fd00:ec2::254]/', ''],
    ['https://10.0.0.5/', ''],
    ['https://192.168.1.1/', ''],
    ['https://127.0.0.1/', ''],
    ['https://localhost/', ''],
    ['https://metadata.google.internal/', ''],
    ['https://2130706433/', ''],
    ['https://user:pw@idp.example.com/', 'user name'],
    ['https://idp.example.com:22/', '(not 22)'],
    ['https://idp.example.com:0/', '(not 0)'],
    ['https://idp.example.com:636/', '(not 636)'],
    ['http://127.0.0.1:80/', 'https'],
  ])('refuses %s in AWS mode from its shape', (url, reason) => {
    // Act
    const problem = outboundUrlShapeProblem(new URL(url), AWS);
    // Assess
    expect(problem).toBeDefined();
    expect(problem).toContain(reason);
  });

  it('allows public https URLs, and plain http only to loopback in local mode', () => {
    // Act / Assess
    expect(outboundUrlShapeProblem(new URL('https://login.example.com/tenant'), AWS)).toBeUndefined();
    expect(outboundUrlShapeProblem(new URL('https://8.8.8.8/'), AWS)).toBeUndefined();
    expect(outboundUrlShapeProblem(new URL('https://login.example.com:443/t'), AWS)).toBeUndefined();
    expect(
      outboundUrlShapeProblem(new URL('https://keycloak.example.com:8443/realms/x'), AWS),
    ).toBeUndefined();
    expect(outboundUrlShapeProblem(new URL('http://127.0.0.1:22/'), LOCAL)).toContain('(not 22)');
    expect(outboundUrlShapeProblem(new URL('http://127.0.0.1:9000/'), LOCAL)).toBeUndefined();
    expect(outboundUrlShapeProblem(new URL('http://localhost:9000/'), LOCAL)).toBeUndefined();
    expect(outboundUrlShapeProblem(new URL('http://10.0.0.5/'), LOCAL)).toContain('https');
    // Never the metadata service, not even in local mode
    expect(outboundUrlShapeProblem(new URL('https://169.254.169.254/'), LOCAL)).toContain('link-local');
  });

  it('guardedFetch throws before connecting to a refused URL, and does not follow redirects', async () => {
    // Prepare: a loopback server that redirects to the metadata service
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      // Act
      const refused = guardedFetch(AWS)(url).catch((e: unknown) => e);
      const redirected = await guardedFetch(LOCAL)(url);

      // Assess: refused without a request in AWS mode; the redirect answered, not followed, locally
      expect(await refused).toBeInstanceOf(OutboundRefusedError);
      expect(redirected.status).toBe(302);
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });
});
