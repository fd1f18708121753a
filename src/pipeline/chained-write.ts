import type { ChainSigner } from '../auth/chain-signer.js';
import type { AnyTxRecordWrite } from '../protocol/tx-record.js';
import type { SpaceWriteOps } from '../storage/types.js';
import { chainTx, type UnsignedTxRecord } from './tx-chain.js';
import type { WriteTask } from './space-writer.js';

/** The epoch and time a record was given. */
export interface RecordSlot {
  epoch: number;
  committedAt: number;
  /** The record's chained hash (lowercase hex), as a receipt quotes it. */
  txHash: string;
}

/**
 * A write that is not a SPEC §2 transaction but takes the space's epochs
 * (Yjs updates, SPEC §11). It runs in the space's writer queue, in one
 * database transaction; each `record(writes)` call takes the next epoch
 * and chains a tx record naming `writes`.
 */
export type ChainedTask<T> = (
  ops: SpaceWriteOps,
  record: (writes: AnyTxRecordWrite[]) => RecordSlot,
) => Promise<T>;

export interface ChainedResult<T> {
  value: T;
  /** The epochs the task's records took, in order. */
  epochs: number[];
}

/**
 * Wraps a chained task as a writer task: it reads the tip, lets the task
 * chain its records, then signs them (one signing round) and appends them
 * before the transaction commits — so a record and what it names are
 * durable together, or neither is.
 */
export function chainedWrite<T>(
  task: ChainedTask<T>,
  context: { spaceId: string; serverDid: string; signer: ChainSigner; now: () => number },
): WriteTask<ChainedResult<T>> {
  return async (ops) => {
    let tip = await ops.chainTip();
    const records: UnsignedTxRecord[] = [];
    const record = (writes: AnyTxRecordWrite[]): RecordSlot => {
      // Time never goes backwards along the chain (point-in-time reads binary-search it).
      const committedAt = Math.max(context.now(), tip.committedAt);
      const epoch = tip.epoch + 1;
      const unsigned = chainTx(
        { v: 1, space: context.spaceId, epoch, committedAt, writes },
        tip,
        context.serverDid,
      );
      records.push(unsigned);
      tip = { epoch, txHash: unsigned.txHash, committedAt };
      return { epoch, committedAt, txHash: Buffer.from(unsigned.txHash).toString('hex') };
    };
    const value = await task(ops, record);
    if (records.length > 0) {
      const signing = context.signer.begin(records.length);
      for (const r of records) signing.add(r.txHash);
      const sigs = await signing.finish();
      await ops.appendTxRecords(
        records.map((r, i) => ({ ...r, serverSig: sigs[i] as Uint8Array })),
      );
    }
    return { value, epochs: records.map((r) => r.epoch) };
  };
}
