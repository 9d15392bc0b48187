import { describe, expect, it } from 'vitest';
import { synthStrongroom } from './synth.js';

/**
 * The app synthesised in China and GovCloud: no ARN names the commercial partition literally (CDK's
 * `AWS::Partition` resolves at deploy time), and every `kms:ViaService` is that partition's endpoint.
 */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

function viaServices(value: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) viaServices(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (k === 'kms:ViaService') out.push(...(Array.isArray(v) ? v : [v]));
      else viaServices(v, out);
    }
  return out;
}

describe.each([
  ['cn-north-1', 'amazonaws.com.cn'],
  ['us-gov-west-1', 'amazonaws.com'],
])('synthesised in %s', (region, suffix) => {
  it(`names no commercial-partition ARN, and every kms:ViaService ends in .${region}.${suffix}`, () => {
    // Act
    const synth = synthStrongroom([region]);
    try {
      // Assess: no literal commercial ARN; every ViaService host is the region's own
      const templates = synth.assembly.stacks.map((s) => s.template as unknown);
      const literal = templates.flatMap((t) => strings(t)).filter((s) => /(^|[^-\w])arn:aws:/.test(s));
      expect(literal).toEqual([]);
      const hosts = templates.flatMap((t) => viaServices(t));
      expect(hosts.length).toBeGreaterThan(0);
      for (const host of hosts)
        expect(host).toMatch(new RegExp(`^(s3|dynamodb)\\.${region}\\.${suffix.replaceAll('.', '\\.')}$`));
    } finally {
      synth.cleanup();
    }
  });
});
