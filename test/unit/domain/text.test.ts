import { describe, expect, it } from 'vitest';
import { displayableHeader, findUnsafeText, unsafeTextReason } from '../../../shared/domain/text.js';

describe('unsafeTextReason', () => {
  it('accepts ordinary text in any script, with line breaks and tabs', () => {
    // Act / Assess
    for (const text of [
      'Ada Lovelace',
      'Zoë Ünal-Ørsted',
      '李小龍',
      'مریم',
      'line one\nline two\r\n\tindented',
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      '',
    ])
      expect(unsafeTextReason(text), JSON.stringify(text)).toBeUndefined();
  });

  it('decides plain ASCII (checked without the Unicode patterns) by the same rule: C0 controls but tab, LF and CR, and DEL', () => {
    // Act / Assess: every ASCII character, alone and between letters
    for (let code = 0; code < 0x80; code++) {
      const c = String.fromCharCode(code);
      const refused = (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') || code === 0x7f;
      for (const text of [c, `a${c}b`])
        expect(unsafeTextReason(text), `U+${code.toString(16)}`).toBe(
          refused ? 'Contains a NUL or another control character' : undefined,
        );
    }
  });

  it('refuses unpaired surrogates, high or low, anywhere', () => {
    // Act / Assess
    for (const text of ['\uD800', 'a\uDBFFb', '\uDC00x', 'x\uDFFF', '\uDC00\uD800'])
      expect(unsafeTextReason(text)).toBe('Contains an unpaired UTF-16 surrogate');
    expect(unsafeTextReason('\uD83D\uDE00')).toBeUndefined(); // 😀, a proper pair
  });

  it('refuses NUL and other control characters, C0 and C1', () => {
    // Act / Assess
    for (const text of ['a\u0000b', '\u0001', '\u0007bell', 'x\u001B[31m', '\u007F', '\u0085', '\u009B'])
      expect(unsafeTextReason(text), JSON.stringify(text)).toBe(
        'Contains a NUL or another control character',
      );
  });

  it('refuses every bidirectional control (the "Trojan Source" characters and the implicit marks)', () => {
    // Act / Assess
    for (const code of [
      0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
    ])
      expect(unsafeTextReason(`Acme${String.fromCodePoint(code)}gnp.exe`), code.toString(16)).toBe(
        'Contains a bidirectional control character',
      );
  });

  it('refuses zero-width and other invisible characters', () => {
    // Act / Assess
    for (const code of [0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2064, 0xfeff, 0x180e, 0x3164, 0xe0041])
      expect(unsafeTextReason(`ad${String.fromCodePoint(code)}min`), code.toString(16)).toBe(
        'Contains an invisible (zero-width) character',
      );
    // Between Latin letters a joiner only hides: refused.
    expect(unsafeTextReason('pay\u200Cpal')).toBe('Contains an invisible (zero-width) character');
    // A joiner with nothing around it, or at the edges of an emoji, is refused too.
    expect(unsafeTextReason('\u200D')).toBeDefined();
    expect(unsafeTextReason('👩\u200D')).toBeDefined();
    expect(unsafeTextReason('\u200D💻')).toBeDefined();
  });

  it('refuses every character that renders as nothing, by Unicode property, not only the well-known ones', () => {
    // Each can make a name look exactly like another one (Ac?me shown as "Acme").
    // Act / Assess
    for (const code of [
      0x00ad, // soft hyphen
      0x034f, // combining grapheme joiner
      0x115f, // Hangul choseong filler
      0x17b4, // Khmer inherent vowel
      0x17b5,
      0x180b, // Mongolian free variation selector, outside Mongolian
      0x206a, // the deprecated format controls
      0x206f,
      0xfe00, // variation selectors after a letter that has no variation sequence
      0xfe0f,
      0xfff9, // interlinear annotation
      0xfffb,
      0x2028, // line and paragraph separators
      0x2029,
      0x1d173, // musical symbol begin beam (format)
      0x1bca0, // shorthand format letter overlap
      0xe0100, // an ideographic variation selector after a Latin letter
      0xe0001, // language tag
    ])
      expect(unsafeTextReason(`Ac${String.fromCodePoint(code)}me`), code.toString(16)).toBe(
        'Contains an invisible (zero-width) character',
      );
  });

  it('keeps variation selectors where they select a visible form', () => {
    // Act / Assess
    expect(unsafeTextReason('I \u2764\uFE0F data')).toBeUndefined(); // red heart, emoji style
    expect(unsafeTextReason('\u2764\uFE0E')).toBeUndefined(); // text style
    expect(unsafeTextReason('1\uFE0F\u20E3')).toBeUndefined(); // keycap one
    expect(unsafeTextReason('\u845B\u{E0100}城')).toBeUndefined(); // an ideographic variation of 葛
    expect(unsafeTextReason('\u1820\u180B')).toBeUndefined(); // a Mongolian letter's variant form
    expect(unsafeTextReason('\uFE0F')).toBeDefined(); // alone
  });

  it('keeps the joiners that render as one visible symbol', () => {
    // Act / Assess
    expect(unsafeTextReason('Ada 👩\u200D💻')).toBeUndefined(); // woman technologist
    expect(unsafeTextReason('👨🏽\u200D🚀')).toBeUndefined(); // with a skin tone
    expect(unsafeTextReason('❤\uFE0F\u200D🔥')).toBeUndefined(); // with VS16
    expect(unsafeTextReason('می\u200Cخواهم')).toBeUndefined(); // Persian ZWNJ
    expect(unsafeTextReason('क्\u200Dष')).toBeUndefined(); // Devanagari ZWJ
    expect(unsafeTextReason('🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}')).toBeUndefined(); // Scotland
    // Tag characters outside a flag sequence smuggle hidden text.
    expect(unsafeTextReason('hello\u{E0069}\u{E0067}\u{E006E}')).toBeDefined();
  });
});

describe('findUnsafeText', () => {
  it('names each offending field by its path, through objects and arrays', () => {
    // Act / Assess
    expect(
      findUnsafeText(
        { name: 'ok', tags: ['fine', 'bad\u202E'], nested: { deep: { x: '\u0000' } }, n: 1 },
        'body',
      ),
    ).toEqual([
      { path: 'body.tags.1', message: 'Contains a bidirectional control character' },
      { path: 'body.nested.deep.x', message: 'Contains a NUL or another control character' },
    ]);
  });

  it('checks object keys too, and echoes an offending key only escaped', () => {
    // Act
    const [finding] = findUnsafeText({ 'ro\u202Ele': 'admin' }, 'body');

    // Assess
    expect(finding).toEqual({
      path: 'body.ro\\u202ele',
      message: 'Field name: Contains a bidirectional control character',
    });
  });

  it('bounds the number of findings and the depth it walks', () => {
    // Prepare: 500 bad fields, and an array nested 10,000 deep
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, '\u0000']));
    let deep: unknown = 'fine';
    for (let i = 0; i < 10_000; i++) deep = [deep];

    // Act / Assess: 20 findings at most, and the walk stops at depth 32
    expect(findUnsafeText(many, 'body')).toHaveLength(20);
    expect(findUnsafeText(deep, 'body')).toEqual([
      { path: `body${'.0'.repeat(33)}`, message: 'Nested deeper than 32 levels' },
    ]);
  });

  it('finds nothing in scalars other than strings', () => {
    // Act / Assess
    expect(findUnsafeText({ a: 1, b: true, c: null, d: [1.5, false] }, 'query')).toEqual([]);
  });
});

describe('displayableHeader', () => {
  it('replaces controls, format and invisible characters and unpaired surrogates with U+FFFD', () => {
    // Act / Assess
    expect(displayableHeader('Mozilla/5.0 \x9b2J\x9b31mAdmin\x85\u202E\u200B\uD800 ok', 512)).toBe(
      'Mozilla/5.0 \uFFFD2J\uFFFD31mAdmin\uFFFD\uFFFD\uFFFD\uFFFD ok',
    );
    expect(unsafeTextReason(displayableHeader('a\u0000b\u2028c\u{E0041}', 512))).toBeUndefined();
  });

  it('replaces the same ASCII characters that input may not carry, and keeps the rest', () => {
    // Act / Assess
    for (let code = 0; code < 0x80; code++) {
      const c = String.fromCharCode(code);
      const kept = unsafeTextReason(c) === undefined;
      expect(displayableHeader(`a${c}b`, 512), `U+${code.toString(16)}`).toBe(kept ? `a${c}b` : 'a\uFFFDb');
    }
  });

  it('keeps ordinary agents as they are and cuts long ones without splitting a surrogate pair', () => {
    // Prepare
    const agent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)';

    // Act / Assess
    expect(displayableHeader(agent, 512)).toBe(agent);
    expect(displayableHeader('ab😀', 3)).toBe('ab');
    expect(displayableHeader('x'.repeat(600), 512)).toHaveLength(512);
  });
});
