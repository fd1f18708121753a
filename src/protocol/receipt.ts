import type { ErrorCode, ErrorDetails } from '../core/errors.js';

/** Per-write outcome of a committed transaction (SPEC §2). */
export interface WriteResult {
  docId: string;
  branch: string;
  status: 'ok';
  /** Branch log length after the write. */
  seq: number;
  newHeads: string[];
  rootRef: string;
  applied: number;
  duplicates: number;
}

/** The success answer of `POST /v1/:space/tx`. */
export interface TxReceipt {
  ok: true;
  epoch: number;
  committedAt: number;
  txHash: string;
  results: WriteResult[];
}

/**
 * Per-write status of a refused transaction: the write that failed carries
 * `error` with its code; writes checked before it are `aborted` (they passed,
 * but nothing of the transaction was kept); writes after it are `notChecked`.
 */
export interface FailedWriteResult {
  docId: string;
  branch: string;
  status: 'error' | 'aborted' | 'notChecked';
  code?: ErrorCode;
}

export interface TxFailure {
  ok: false;
  error: { code: ErrorCode; message: string } & ErrorDetails;
  results: FailedWriteResult[];
}

export type TxOutcome = TxReceipt | TxFailure;
