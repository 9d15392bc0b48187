import { describe, expect, it } from 'vitest';
import { EmailAddress } from '../../../shared/schemas/common.js';

describe('EmailAddress', () => {
  it.each([
    'a@b.co',
    'first.last+tag@sub.example.test',
    "o'brien@example.ie",
    'A@EXAMPLE.COM',
    `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}`,
  ])('accepts %s, an address mail servers take', (address) => {
    // Act + Assess
    expect(EmailAddress().safeParse(address).success).toBe(true);
  });

  it.each([
    [
      'a domain label ending in a hyphen (the fuzzer found it: mail servers refuse it, 503 followed)',
      'x@y-.com',
    ],
    ['a domain label starting with a hyphen', 'x@-y.com'],
    ['a domain label of 64 characters', `x@${'b'.repeat(64)}.com`],
    ['a numeric top-level label', 'x@example.123'],
    ['no top-level label', 'x@localhost'],
    ['a leading dot', '.a@x.com'],
    ['a doubled dot', 'a..b@x.com'],
    ['a trailing dot', 'a.@x.com'],
    ['two at signs', 'a@b@x.com'],
    ['a local part of 65 characters', `${'a'.repeat(65)}@x.com`],
    ['254 characters', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`],
  ])('refuses %s', (_, address) => {
    // Act
    const result = EmailAddress().safeParse(address);
    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/Not an e-mail address|Too big/);
  });

  it('trims the spaces around an address', () => {
    // Act + Assess
    expect(EmailAddress().parse('  a@b.co ')).toBe('a@b.co');
  });
});
