import { CairnError } from './errors.js';

/** SPEC §1: a space is named by a DID of at most 128 characters. */
const SPACE_DID = /^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$/;
export const MAX_SPACE_ID_CHARS = 128;
/** SPEC §1: branch names. */
const BRANCH_NAME = /^[A-Za-z0-9._/-]{1,128}$/;
export const MAX_DOC_ID_BYTES = 256;
export const DEFAULT_BRANCH = 'main';
/** The kinds of document a space holds (SPEC §1, §11); a doc's kind is fixed by its first commit. */
export const DOC_KINDS = ['automerge', 'yjs'] as const;
export type DocKindName = (typeof DOC_KINDS)[number];
export const DEFAULT_DOC_KIND: DocKindName = 'automerge';
/** An Automerge change hash: 32 bytes as lowercase hex. */
const CHANGE_HASH = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isSpaceId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_SPACE_ID_CHARS && SPACE_DID.test(value);
}

export function isDocId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  // URL parsers drop "." and ".." path segments, so such a doc could never be read back.
  if (value === '.' || value === '..') return false;
  if (CONTROL_CHARS.test(value)) return false;
  // Lone surrogates cannot be encoded as UTF-8; reject them rather than store U+FFFD.
  if (LONE_SURROGATE.test(value)) return false;
  return utf8ByteLength(value) <= MAX_DOC_ID_BYTES;
}

/**
 * Text every backend stores and gives back unchanged: no control characters
 * (PostgreSQL cannot store NUL at all) and no lone surrogates (they have no
 * UTF-8 form). Checked at the edge, so that no such text reaches a database.
 */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !CONTROL_CHARS.test(value) && !LONE_SURROGATE.test(value);
}

export function isDocKind(value: unknown): value is DocKindName {
  return typeof value === 'string' && (DOC_KINDS as readonly string[]).includes(value);
}

/** UTF-8 length of a string without lone surrogates (no Node or DOM API: core runs in browsers). */
export function utf8ByteLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair: one 4-byte code point
      i++;
    } else n += 3;
  }
  return n;
}

export function isBranchName(value: unknown): value is string {
  // "." and "..": URL parsers drop such path segments, so …/branches/../close could not be sent.
  return typeof value === 'string' && BRANCH_NAME.test(value) && value !== '.' && value !== '..';
}

export function isChangeHash(value: unknown): value is string {
  return typeof value === 'string' && CHANGE_HASH.test(value);
}

export function parseSpaceId(value: unknown): string {
  if (!isSpaceId(value)) {
    throw new CairnError(
      'ValidationError',
      `space must be a DID (did:method:id, at most ${MAX_SPACE_ID_CHARS} characters)`,
    );
  }
  return value;
}

export function parseDocId(value: unknown): string {
  if (!isDocId(value)) {
    throw new CairnError(
      'ValidationError',
      `docId must be 1-${MAX_DOC_ID_BYTES} bytes of UTF-8 without control characters (and not "." or "..")`,
    );
  }
  return value;
}

export function parseBranchName(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_BRANCH;
  if (!isBranchName(value)) {
    throw new CairnError(
      'ValidationError',
      'branch must match ^[A-Za-z0-9._/-]{1,128}$ (and not be "." or "..")',
    );
  }
  return value;
}
