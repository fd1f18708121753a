/** Standard base64 (RFC 4648 §4), padding optional. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes strict, canonical base64, or returns undefined. `Buffer.from(s,
 * 'base64')` alone silently skips invalid characters and ignores stray bits,
 * so two different strings could name the same bytes.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  // Canonical: the unused low bits of the last character must be zero.
  if (bytes.toString('base64').replace(/=+$/, '') !== unpadded) return undefined;
  return bytes;
}

/** Upper bound of the decoded size of a base64 string, without decoding it. */
export function base64DecodedLength(text: string): number {
  return Math.floor((text.length * 3) / 4);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
