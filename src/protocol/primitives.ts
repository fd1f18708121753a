import { z } from 'zod';
import { isBranchName, isChangeHash, isDocId, isSpaceId } from '../core/ids.js';
import type { JsonValue } from '../core/json.js';

/*
 * The building blocks of every wire schema. Each is a zod schema so that one
 * declaration gives the TypeScript type, the request validation and the
 * OpenAPI document (server/openapi.ts).
 */

/** A non-negative safe integer (seqs, epochs, counts, milliseconds). */
export const uint = z.number().int().nonnegative();

/** A change hash: 32 bytes as lowercase hex. */
export const changeHash = z
  .string()
  .refine(isChangeHash, { message: 'must be a 64-char lowercase hex hash' })
  .meta({ pattern: '^[0-9a-f]{64}$', description: 'a change hash (lowercase hex)' });

/** A set of heads, always sorted in answers. */
export const heads = z.array(changeHash);

/** Lowercase hex SHA-256. */
export const hex256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .meta({ description: 'lowercase hex SHA-256' });

export const docId = z
  .string()
  .refine(isDocId, { message: 'must be 1-256 bytes of UTF-8 without control characters' })
  .meta({ description: 'a doc id: 1-256 bytes of UTF-8, no control characters' });

export const branchName = z
  .string()
  .refine(isBranchName, { message: 'must match ^[A-Za-z0-9._/-]{1,128}$' })
  .meta({ pattern: '^[A-Za-z0-9._/-]{1,128}$', description: 'a branch name' });

export const spaceId = z
  .string()
  .refine(isSpaceId, { message: 'must be a DID of at most 128 characters' })
  .meta({ pattern: '^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$', description: 'a space DID' });

/** Standard base64 of binary data (change bytes). */
export const base64 = z.string().meta({ contentEncoding: 'base64' });

/** Milliseconds since 1970 (UTC). */
export const epochMs = uint.meta({ description: 'milliseconds since 1970 (UTC)' });

/** Any JSON value (a document's content). */
export const jsonValue = z
  .custom<JsonValue>((v) => v !== undefined)
  .meta({ id: 'JsonValue', description: 'any JSON value' });

/** Every paged answer: `{items, nextCursor?}`; pass `cursor=` to continue. */
export function page<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().optional().meta({ description: 'pass as `cursor=` for the next page' }),
  });
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}
