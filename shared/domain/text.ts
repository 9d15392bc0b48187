import { onFirstUse } from './on-first-use.js';

/**
 * Characters no API input may carry, in any string field: they are invisible or reorder what a reader
 * sees (so a tenant or person name could pose as another), break storage (DynamoDB stores UTF-8, where an
 * unpaired surrogate cannot exist), or end strings early in C-based tools (NUL).
 */

/** A UTF-16 surrogate without its partner. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A pattern naming Unicode properties (`\p{...}`), built on first use from its source. V8 builds each
 * property's character set from ICU data when it compiles such a pattern, and when it validates a regex
 * literal, which it does wherever the literal stands, in a function never called too: about 2 ms of a cold
 * start for the patterns here. Text in plain ASCII (PLAIN_ASCII: nearly every name, key and User-Agent) has
 * none of the characters they look for, so checking it never builds them.
 */
function propertyPattern(source: string, flags: string): () => RegExp {
  return onFirstUse(() => new RegExp(source, flags));
}

/** Printable ASCII, tab, line feed and carriage return: text the checks below would all let through. */
const PLAIN_ASCII = /^[\t\n\r\x20-\x7E]*$/;

// Control characters (general category Cc: C0, DEL and C1) except tab, line feed and carriage return
// (certificates and SQL text have line breaks).
const CONTROL_SOURCE = String.raw`(?![\t\n\r])\p{Cc}`;
const CONTROL = propertyPattern(CONTROL_SOURCE, 'u');

// Bidirectional formatting: the explicit embeddings, overrides and isolates, and the implicit marks
// (LRM, RLM, ALM). Each can make text display in an order other than the one stored (CVE-2021-42574).
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

// Everything that renders as nothing, by Unicode property rather than by a list that attackers can step
// around: format characters (Cf: zero-width space and joiners, word joiner, BOM, the deprecated format
// controls, interlinear annotation, tags), the line and paragraph separators (Zl, Zp), and every default
// ignorable code point (soft hyphen, combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
// variation selectors, Mongolian free variation selectors, ...).
const INVISIBLE_SOURCE = String.raw`[\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]`;
const INVISIBLE = propertyPattern(INVISIBLE_SOURCE, 'u');
const INVISIBLE_ALL = propertyPattern(INVISIBLE_SOURCE, 'gu');

// The uses of otherwise-invisible characters that render as (part of) one visible symbol, and are kept:
// - ZWJ inside an emoji sequence (👩‍💻): between two pictographs, the first optionally with VS16 or a skin tone;
// - ZWNJ and ZWJ between two letters of a script that needs them to spell words (Arabic, Persian, Indic);
// - tag characters inside an emoji tag sequence (the subdivision flags 🏴󠁧󠁢󠁳󠁣󠁴󠁿), which end with U+E007F;
// - a variation selector right after a character that has variation sequences: VS15/VS16 after an emoji
//   (❤️, 1️⃣), VS1-VS16 and the ideographic selectors after a CJK ideograph, and the Mongolian free
//   variation selectors after a Mongolian letter.
const EMOJI_JOINER = propertyPattern(
  String.raw`(?<=\p{Extended_Pictographic}[\u{FE0F}\u{1F3FB}-\u{1F3FF}]?)\u200D(?=\p{Extended_Pictographic})`,
  'gu',
);
const SCRIPTS_WITH_JOINERS =
  '\\p{Script=Arabic}\\p{Script=Devanagari}\\p{Script=Bengali}\\p{Script=Gurmukhi}\\p{Script=Gujarati}\\p{Script=Oriya}\\p{Script=Tamil}\\p{Script=Telugu}\\p{Script=Kannada}\\p{Script=Malayalam}\\p{Script=Sinhala}';
const SCRIPT_JOINER = propertyPattern(
  `(?<=[${SCRIPTS_WITH_JOINERS}])[\\u200C\\u200D](?=[${SCRIPTS_WITH_JOINERS}])`,
  'gu',
);
const EMOJI_TAG_SEQUENCE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu;
const VARIATION_SEQUENCE = propertyPattern(
  String.raw`(?<=\p{Emoji})[\u{FE0E}\u{FE0F}]|(?<=\p{Ideographic})[\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]|(?<=\p{Script=Mongolian})[\u180B-\u180D\u180F]`,
  'gu',
);

/** Why a string may not be accepted as input, or undefined when it may. */
export function unsafeTextReason(value: string): string | undefined {
  if (PLAIN_ASCII.test(value)) return undefined;
  if (LONE_SURROGATE.test(value)) return 'Contains an unpaired UTF-16 surrogate';
  if (CONTROL().test(value)) return 'Contains a NUL or another control character';
  if (BIDI.test(value)) return 'Contains a bidirectional control character';
  if (INVISIBLE().test(value)) {
    const visible = value
      .replace(EMOJI_TAG_SEQUENCE, '\u{1F3F4}')
      .replace(EMOJI_JOINER(), '')
      .replace(SCRIPT_JOINER(), '')
      .replace(VARIATION_SEQUENCE(), '');
    if (INVISIBLE().test(visible)) return 'Contains an invisible (zero-width) character';
  }
  return undefined;
}

const LONE_SURROGATE_ALL = onFirstUse(() => new RegExp(LONE_SURROGATE.source, 'g'));
const CONTROL_ALL = propertyPattern(CONTROL_SOURCE, 'gu');

/**
 * Text taken from a request header (the User-Agent) made safe to store and show back to people: every
 * control, format, invisible character and unpaired surrogate becomes U+FFFD, and the result is cut to
 * `maxLength` code units without splitting a surrogate pair. Headers are not refused (a client does not
 * choose its User-Agent with care), but nothing in them may reach a session list, an audit log or a
 * terminal as sent.
 */
export function displayableHeader(value: string, maxLength: number): string {
  const safe = PLAIN_ASCII.test(value)
    ? value
    : value
        .replace(LONE_SURROGATE_ALL(), '\uFFFD')
        .replace(CONTROL_ALL(), '\uFFFD')
        .replace(INVISIBLE_ALL(), '\uFFFD');
  if (safe.length <= maxLength) return safe;
  const cut = safe.slice(0, maxLength);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** `key` with everything outside printable ASCII written as `\\uXXXX`, safe to echo in an error. */
function escapeUnprintable(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    out += code >= 0x20 && code < 0x7f ? key[i] : `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** Deepest nesting any request part may have (the query AST, the deepest input, needs about 20). */
const MAX_DEPTH = 32;

/** A field (by its path below `root`) whose string or key is unsafe, with the reason. */
export interface UnsafeText {
  path: string;
  message: string;
}

/**
 * Every string, and every object key, in a JSON-like value that `unsafeTextReason` refuses, named by its
 * path (`body.members.0.name`). Stops at `limit` findings so a hostile body cannot make the answer huge, and
 * refuses nesting deeper than any route accepts (before a schema could recurse into it).
 */
export function findUnsafeText(value: unknown, root: string, limit = 20): UnsafeText[] {
  const found: UnsafeText[] = [];
  const walk = (node: unknown, path: string, depth: number) => {
    if (found.length >= limit) return;
    if (depth > MAX_DEPTH) {
      found.push({ path, message: `Nested deeper than ${MAX_DEPTH} levels` });
      return;
    }
    if (typeof node === 'string') {
      const reason = unsafeTextReason(node);
      if (reason) found.push({ path, message: reason });
      return;
    }
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, `${path}.${i}`, depth + 1);
      return;
    }
    if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) {
        const keyReason = unsafeTextReason(key);
        const safeKey = keyReason ? escapeUnprintable(key) : key;
        if (keyReason) found.push({ path: `${path}.${safeKey}`, message: `Field name: ${keyReason}` });
        walk(item, `${path}.${safeKey}`, depth + 1);
        if (found.length >= limit) return;
      }
    }
  };
  walk(value, root, 0);
  return found;
}

/** The longest User-Agent kept with a session or an audit event. */
export const USER_AGENT_MAX_LENGTH = 512;
