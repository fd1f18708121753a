/*
 * Base64 (RFC 4648 §4) and base64url (§5) with no Node or DOM API, so that
 * protocol/ runs in browsers. Decoding is strict and canonical: only the
 * alphabet, padding only to a multiple of 4, and the unused low bits of the
 * last character zero — so two different strings never name the same bytes
 * (`Buffer.from(s, 'base64')` skips bad characters and ignores stray bits).
 */

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PAD = 61; // '='

function decodeTable(alphabet: string): Int8Array {
  // 256 entries: the text is decoded as UTF-8 bytes, and any byte of a
  // non-ASCII character (≥ 128) maps to -1 like every other stranger.
  const table = new Int8Array(256).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
const STANDARD_DECODE = decodeTable(STANDARD);
const URL_DECODE = decodeTable(URL_SAFE);
const UTF8 = new TextEncoder();

function decode(text: string, table: Int8Array): Uint8Array | undefined {
  // Working on bytes instead of charCodeAt is ~4x faster on megabyte
  // strings (a 3 MiB change decodes in ~4 ms, not ~17 ms, on the event loop).
  const src = UTF8.encode(text);
  let end = src.length;
  while (end > 0 && src.length - end < 2 && src[end - 1] === PAD) end--;
  if (end !== src.length && src.length % 4 !== 0) return undefined;
  const rem = end % 4;
  if (rem === 1) return undefined;
  const out = new Uint8Array(((end - rem) / 4) * 3 + (rem === 0 ? 0 : rem - 1));
  let o = 0;
  let i = 0;
  for (; i + 4 <= end; i += 4) {
    const a = table[src[i] as number] as number;
    const b = table[src[i + 1] as number] as number;
    const c = table[src[i + 2] as number] as number;
    const d = table[src[i + 3] as number] as number;
    if ((a | b | c | d) < 0) return undefined;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 15) << 4) | (c >> 2);
    out[o++] = ((c & 3) << 6) | d;
  }
  if (rem >= 2) {
    const a = table[src[i] as number] as number;
    const b = table[src[i + 1] as number] as number;
    if ((a | b) < 0) return undefined;
    out[o++] = (a << 2) | (b >> 4);
    if (rem === 2) return (b & 15) === 0 ? out : undefined;
    const c = table[src[i + 2] as number] as number;
    if (c < 0 || (c & 3) !== 0) return undefined;
    out[o] = ((b & 15) << 4) | (c >> 2);
  }
  return out;
}

const ASCII = new TextDecoder();
const STANDARD_CODES = new TextEncoder().encode(STANDARD);
const URL_CODES = new TextEncoder().encode(URL_SAFE);

function encode(bytes: Uint8Array, codes: Uint8Array, pad: boolean): string {
  const n = bytes.length - (bytes.length % 3);
  const rest = bytes.length - n;
  const out = new Uint8Array((n / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1));
  let o = 0;
  for (let i = 0; i < n; i += 3) {
    const v =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = codes[v >> 18] as number;
    out[o++] = codes[(v >> 12) & 63] as number;
    out[o++] = codes[(v >> 6) & 63] as number;
    out[o++] = codes[v & 63] as number;
  }
  if (rest > 0) {
    const v = ((bytes[n] as number) << 16) | (rest === 2 ? (bytes[n + 1] as number) << 8 : 0);
    out[o++] = codes[v >> 18] as number;
    out[o++] = codes[(v >> 12) & 63] as number;
    if (rest === 2) out[o++] = codes[(v >> 6) & 63] as number;
    while (pad && o < out.length) out[o++] = PAD;
  }
  // Every code is ASCII, so UTF-8 decoding is a plain copy (and fast, unlike += on strings).
  return ASCII.decode(out);
}

/** Decodes strict, canonical standard base64 (padding optional), or returns undefined. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  return decode(text, STANDARD_DECODE);
}

/** Decodes strict, canonical base64url (padding optional), or returns undefined. */
export function decodeBase64UrlStrict(text: string): Uint8Array | undefined {
  return decode(text, URL_DECODE);
}

/** Upper bound of the decoded size of a base64 string, without decoding it. */
export function base64DecodedLength(text: string): number {
  return Math.floor((text.length * 3) / 4);
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STANDARD_CODES, true);
}

/** base64url without padding (signatures, cursors). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL_CODES, false);
}

/** base64url of a string's UTF-8 bytes. */
export function encodeBase64UrlText(text: string): string {
  return encodeBase64Url(new TextEncoder().encode(text));
}

/** The UTF-8 text of a base64url string, or undefined if it is not strict base64url of UTF-8. */
export function decodeBase64UrlText(text: string): string | undefined {
  const bytes = decodeBase64UrlStrict(text);
  if (!bytes) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
