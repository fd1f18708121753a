import { CairnError } from '../core/errors.js';
import { decodeChangeBytes, type DecodedChange } from '../crdt/decoded-change.js';
import type { TxRequest, TxWrite } from '../protocol/tx-request.js';

/** A write with its change headers decoded ahead of the queue (decoding is CPU, not I/O). */
export interface PreparedWrite {
  write: TxWrite;
  /** Per change: its header, or the `InvalidChange` to report at step 5. */
  decoded: (DecodedChange | CairnError)[];
}

export interface PreparedTx {
  request: TxRequest;
  writes: PreparedWrite[];
  /** DID of the client that signed the request, when auth is on. */
  clientDid?: string;
}

export function prepareTx(request: TxRequest, clientDid?: string): PreparedTx {
  const writes = request.writes.map((write) => ({
    write,
    decoded: write.changes.map((bytes, i) => {
      try {
        return decodeChangeBytes(bytes, i);
      } catch (err) {
        if (err instanceof CairnError) return err;
        throw err;
      }
    }),
  }));
  const prepared: PreparedTx = { request, writes };
  if (clientDid) prepared.clientDid = clientDid;
  return prepared;
}
