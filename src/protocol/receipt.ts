import { z } from 'zod';
import { ERROR_CODES } from '../core/errors.js';
import { branchName, docId, epochMs, heads, hex256, uint } from './primitives.js';

/** The `error` object of every failure (SPEC §9): a code of the closed set, a message, details. */
export const errorObject = z
  .object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    docId: z.string().optional(),
    branch: z.string().optional(),
    currentHeads: heads.optional().meta({ description: 'the current heads (conflicts)' }),
    name: z.string().optional().meta({ description: 'the invariant that failed' }),
    limit: z.string().optional().meta({ description: 'the limit that was exceeded' }),
    changeIndex: uint.optional().meta({ description: 'the offending change within its write' }),
    hash: z.string().optional().meta({ description: 'the offending change or dependency' }),
    requestId: z.string().optional().meta({ description: 'the X-Request-Id of the request' }),
  })
  .meta({ id: 'Error' });

/** Every error answer: `{ok: false, error}` with the status of its code. */
export const errorBody = z.object({ ok: z.literal(false), error: errorObject }).meta({
  id: 'ErrorBody',
});
export type ErrorBody = z.infer<typeof errorBody>;

/** Per-write outcome of a committed transaction (SPEC §2). */
export const writeResult = z
  .object({
    docId,
    branch: branchName,
    status: z.literal('ok'),
    seq: uint.meta({ description: 'branch log length after the write' }),
    newHeads: heads,
    rootRef: hex256,
    applied: uint,
    duplicates: uint,
  })
  .meta({ id: 'WriteResult' });
export type WriteResult = z.infer<typeof writeResult>;

/** The success answer of `POST /v1/:space/tx`. */
export const txReceipt = z
  .object({
    ok: z.literal(true),
    epoch: uint,
    committedAt: epochMs,
    txHash: hex256,
    results: z.array(writeResult),
  })
  .meta({ id: 'TxReceipt' });
export type TxReceipt = z.infer<typeof txReceipt>;

/**
 * Per-write status of a refused transaction: the write that failed carries
 * `error` with its code; writes checked before it are `aborted` (they passed,
 * but nothing of the transaction was kept); writes after it are `notChecked`.
 */
export const failedWriteResult = z
  .object({
    docId,
    branch: branchName,
    status: z.enum(['error', 'aborted', 'notChecked']),
    code: z.enum(ERROR_CODES).optional(),
  })
  .meta({ id: 'FailedWriteResult' });
export type FailedWriteResult = z.infer<typeof failedWriteResult>;

/** A refused transaction: the error plus every write's status. */
export const txFailure = z
  .object({
    ok: z.literal(false),
    error: errorObject,
    results: z.array(failedWriteResult),
  })
  .meta({ id: 'TxFailure' });
export type TxFailure = z.infer<typeof txFailure>;

export type TxOutcome = TxReceipt | TxFailure;
