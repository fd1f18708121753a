import * as dagCbor from '@ipld/dag-cbor';

import type { z } from 'zod';
import type { txRecordWrite } from './views.js';

/** One write as committed to the tx chain (`changesHash`: see DocKind.contentDigest). */
export type TxBodyWrite = z.infer<typeof txRecordWrite>;

/**
 * What a tx record commits to. Its deterministic encoding is DAG-CBOR (map
 * keys sorted, shortest integers), and `bodyHash` is the SHA-256 of that
 * encoding; docs/TX-CHAIN.md shows how to recompute it offline.
 */
export interface TxBody {
  v: 1;
  space: string;
  epoch: number;
  committedAt: number;
  clientDid?: string;
  writes: TxBodyWrite[];
}

export function encodeTxBody(body: TxBody): Uint8Array {
  return dagCbor.encode(body);
}

export function decodeTxBody(bytes: Uint8Array): TxBody {
  return dagCbor.decode(bytes) as TxBody;
}
