import {
  isYjsWrite,
  type AnyTxRecordWrite,
  type TxRecordWrite,
} from '../../src/protocol/tx-record.js';

/** The writes of a tx record that go to a branch log (Automerge), without its Yjs updates. */
export function automergeWrites(writes: readonly AnyTxRecordWrite[] | undefined): TxRecordWrite[] {
  return (writes ?? []).filter((w): w is TxRecordWrite => !isYjsWrite(w));
}
