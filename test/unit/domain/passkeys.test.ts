import { describe, expect, it } from 'vitest';
import { relyingPartyOf } from '../../../shared/domain/passkeys.js';

describe('relyingPartyOf', () => {
  it("defaults to the console's host and origin", () => {
    // Act / Assess
    expect(relyingPartyOf({ consoleUrl: 'https://strongroom.example.com/console/' })).toEqual({
      id: 'strongroom.example.com',
      name: 'Strongroom',
      origins: ['https://strongroom.example.com'],
    });
  });

  it('takes a parent domain as the RP ID and several origins on it', () => {
    // Act
    const rp = relyingPartyOf({
      consoleUrl: 'https://console.example.com/console/',
      rpId: 'Example.com',
      origins: 'https://console.example.com, https://example.com',
    });

    // Assess: the RP ID lower-cased, both origins
    expect(rp).toMatchObject({
      id: 'example.com',
      origins: ['https://console.example.com', 'https://example.com'],
    });
  });

  it.each([
    ['an origin on another domain', { rpId: 'example.com', origins: 'https://example.org' }],
    ['an origin that merely ends like the RP ID', { rpId: 'example.com', origins: 'https://badexample.com' }],
    ['a URL with a path instead of an origin', { origins: 'https://console.example.com/console' }],
    ['no origin at all', { origins: ' , ' }],
  ])('refuses %s', (_, settings) => {
    // Act / Assess
    expect(() => relyingPartyOf({ consoleUrl: 'https://console.example.com/console/', ...settings })).toThrow(
      /passkeys/,
    );
  });
});
