import { z } from 'zod';
import { CairnError } from '../core/errors.js';
import { DEFAULT_BRANCH, isStorableText, type DocKindName } from '../core/ids.js';
import type { Limits } from '../core/limits.js';
import { base64DecodedLength, decodeBase64Strict } from './base64.js';
import { base64, branchName, docId, heads } from './primitives.js';
import { validate } from './validate.js';

/** A read-set entry: the transaction only commits if the branch still has these heads. */
export interface TxRead {
  docId: string;
  branch: string;
  heads: string[];
}

export interface MergeSource {
  branch: string;
  heads: string[];
}

/** One write of a transaction, with its changes already base64-decoded. */
export interface TxWrite {
  docId: string;
  branch: string;
  /** The kind of the written doc; default `automerge` (what `POST /tx` writes). */
  kind?: DocKindName;
  baseHeads: string[];
  changes: Uint8Array[];
  merge: boolean;
  mergeOf: MergeSource[];
  closeMerged: boolean;
}

/** A validated transaction body (SPEC §2). */
export interface TxRequest {
  clientTxId?: string;
  reads: TxRead[];
  writes: TxWrite[];
}

const readSchema = z.strictObject({
  docId,
  branch: branchName.optional(),
  heads: heads.meta({ description: 'the heads the transaction read; must still be current' }),
});
const mergeSourceSchema = z.strictObject({ branch: branchName, heads });
const writeSchema = z.strictObject({
  docId,
  branch: branchName.optional(),
  baseHeads: heads.optional().meta({ description: 'required unless merge is true' }),
  changes: z
    .array(base64.meta({ description: 'an Automerge change (standard base64)' }))
    .min(1, 'a write needs at least one change'),
  merge: z.boolean().optional(),
  mergeOf: z.array(mergeSourceSchema).optional(),
  closeMerged: z.boolean().optional(),
});

/** The body of `POST /v1/:space/tx` (SPEC §2), before limits and base64 decoding. */
export const txBodySchema = z
  .strictObject({
    clientTxId: z
      .string()
      .min(1)
      .max(128)
      .refine(isStorableText, { message: 'must not hold control characters or lone surrogates' })
      .optional()
      .meta({ description: 'idempotency key: 1-128 characters, no control characters' }),
    reads: z.array(readSchema).optional(),
    writes: z.array(writeSchema).optional(),
  })
  .meta({ id: 'TxRequest' });

/** A transaction body as a client sends it. */
export type TxRequestBody = z.input<typeof txBodySchema>;

/** A body that passed `txBodySchema`. */
export type RawTx = z.output<typeof txBodySchema>;

/**
 * Checks shape and limits of a transaction body (SPEC §2 step 1) and decodes
 * its change strings. Wrong shapes are `ValidationError`; counts or sizes over
 * a limit are `LimitExceeded`.
 */
export function parseTxRequest(body: unknown, limits: Limits): TxRequest {
  return txRequestFrom(validate(txBodySchema, body, 'body'), limits);
}

/** The rest of step 1 for a body that already passed `txBodySchema`: limits, base64. */
export function txRequestFrom(raw: RawTx, limits: Limits): TxRequest {
  const reads = raw.reads ?? [];
  const writes = raw.writes ?? [];
  checkCounts(reads, writes, limits);
  const seen = new Set<string>();
  const out: TxRequest = {
    reads: reads.map((r) => ({
      docId: r.docId,
      branch: r.branch ?? DEFAULT_BRANCH,
      heads: r.heads,
    })),
    writes: writes.map((w, i) => {
      const branchName = w.branch ?? DEFAULT_BRANCH;
      const key = JSON.stringify([w.docId, branchName]);
      if (seen.has(key)) {
        throw new CairnError(
          'ValidationError',
          `writes[${i}]: a transaction writes each branch at most once`,
          {
            docId: w.docId,
            branch: branchName,
          },
        );
      }
      seen.add(key);
      if (!w.merge && w.baseHeads === undefined) {
        throw new CairnError(
          'ValidationError',
          `writes[${i}].baseHeads: required unless merge is true`,
        );
      }
      if (!w.merge && (w.mergeOf?.length || w.closeMerged)) {
        throw new CairnError(
          'ValidationError',
          `writes[${i}]: mergeOf and closeMerged need merge: true`,
        );
      }
      return {
        docId: w.docId,
        branch: branchName,
        baseHeads: w.baseHeads ?? [],
        changes: decodeChanges(w.changes, i, limits),
        merge: w.merge ?? false,
        mergeOf: w.mergeOf ?? [],
        closeMerged: w.closeMerged ?? false,
      };
    }),
  };
  if (raw.clientTxId !== undefined) out.clientTxId = raw.clientTxId;
  return out;
}

function checkCounts(
  reads: NonNullable<RawTx['reads']>,
  writes: NonNullable<RawTx['writes']>,
  limits: Limits,
): void {
  const readCount = reads.length;
  if (writes.length > limits.maxWritesPerTx) {
    throw new CairnError(
      'LimitExceeded',
      `at most ${limits.maxWritesPerTx} writes per transaction`,
      {
        limit: 'maxWritesPerTx',
      },
    );
  }
  if (readCount > limits.maxReadsPerTx) {
    throw new CairnError('LimitExceeded', `at most ${limits.maxReadsPerTx} reads per transaction`, {
      limit: 'maxReadsPerTx',
    });
  }
  const headLists = [
    ...reads.map((r) => r.heads),
    ...writes.flatMap((w) => [w.baseHeads ?? [], ...(w.mergeOf ?? []).map((m) => m.heads)]),
  ];
  if (headLists.some((h) => h.length > limits.maxHeadsPerRef)) {
    throw new CairnError('LimitExceeded', `at most ${limits.maxHeadsPerRef} heads per list`, {
      limit: 'maxHeadsPerRef',
    });
  }
  writes.forEach((w, i) => {
    if (w.changes.length > limits.maxChangesPerWrite) {
      throw new CairnError(
        'LimitExceeded',
        `writes[${i}]: at most ${limits.maxChangesPerWrite} changes per write`,
        { limit: 'maxChangesPerWrite' },
      );
    }
  });
}

function decodeChanges(texts: string[], writeIndex: number, limits: Limits): Uint8Array[] {
  return texts.map((text, j) => {
    if (base64DecodedLength(text) > limits.maxChangeBytes + 2) {
      throw new CairnError(
        'LimitExceeded',
        `writes[${writeIndex}].changes[${j}]: a change is at most ${limits.maxChangeBytes} bytes`,
        { limit: 'maxChangeBytes', changeIndex: j },
      );
    }
    const bytes = decodeBase64Strict(text);
    if (bytes === undefined) {
      throw new CairnError('ValidationError', `writes[${writeIndex}].changes[${j}]: not base64`, {
        changeIndex: j,
      });
    }
    if (bytes.byteLength > limits.maxChangeBytes) {
      throw new CairnError(
        'LimitExceeded',
        `writes[${writeIndex}].changes[${j}]: a change is at most ${limits.maxChangeBytes} bytes`,
        { limit: 'maxChangeBytes', changeIndex: j },
      );
    }
    return bytes;
  });
}
