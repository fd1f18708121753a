import { CairnError } from '../core/errors.js';
import type { DecodeLimits, DocKind, KindChange } from '../crdt/doc-kind.js';
import { docKind } from '../crdt/kinds.js';
import { DEFAULT_DOC_KIND } from '../core/ids.js';
import type { TxRequest, TxWrite } from '../protocol/tx-request.js';

/** A write with its change headers decoded ahead of the queue (decoding is CPU, not I/O). */
export interface PreparedWrite {
  write: TxWrite;
  /** The kind of the written doc, whose rules the write follows. */
  kind: DocKind;
  /** Per change: its header, or the `InvalidChange` to report at step 5. */
  decoded: (KindChange | CairnError)[];
}

export interface PreparedTx {
  request: TxRequest;
  writes: PreparedWrite[];
  /** DID of the client that signed the request, when auth is on. */
  clientDid?: string;
}

export function prepareTx(
  request: TxRequest,
  limits: DecodeLimits,
  clientDid?: string,
): PreparedTx {
  const writes = request.writes.map((write) => {
    const kind = docKind(write.kind ?? DEFAULT_DOC_KIND);
    return {
      write,
      kind,
      decoded: write.changes.map((bytes) => {
        try {
          return kind.decodeChange(bytes, limits);
        } catch (err) {
          if (err instanceof CairnError) return err;
          throw err;
        }
      }),
    };
  });
  const prepared: PreparedTx = { request, writes };
  if (clientDid) prepared.clientDid = clientDid;
  return prepared;
}
