import { CairnError } from '../core/errors.js';
import { isDocId } from '../core/ids.js';
import { decodeBase64UrlText, encodeBase64UrlText } from './base64.js';

/**
 * The one cursor format of every paged route: base64url of a small JSON
 * object. Opaque to clients; a cursor that does not decode to what the route
 * expects is `ValidationError`, never a silent restart.
 */
export function encodeCursor(value: Record<string, string | number>): string {
  return encodeBase64UrlText(JSON.stringify(value));
}

export function decodeCursor<T>(cursor: string, check: (v: unknown) => v is T): T {
  let value: unknown;
  try {
    const text = decodeBase64UrlText(cursor);
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!check(value)) throw new CairnError('ValidationError', 'invalid cursor');
  return value;
}

/** A cursor that holds a position in a log: `{s: seq}`. */
export const isSeqCursor = (v: unknown): v is { s: number } =>
  typeof v === 'object' &&
  v !== null &&
  Number.isSafeInteger((v as { s: unknown }).s) &&
  (v as { s: number }).s >= 0;

/** A cursor that holds the last doc id of a page: `{d: docId}`. */
export const isDocCursor = (v: unknown): v is { d: string } =>
  typeof v === 'object' && v !== null && isDocId((v as { d: unknown }).d);

/** A cursor that holds an epoch of a journal: `{e: epoch}`. */
export const isEpochCursor = (v: unknown): v is { e: number } =>
  typeof v === 'object' &&
  v !== null &&
  Number.isSafeInteger((v as { e: unknown }).e) &&
  (v as { e: number }).e >= 0;
