import { createHash } from 'node:crypto';
import { encodeTxBody, type TxRecordBody } from '../protocol/tx-record.js';
import type { ChainTip, TxRecordRow } from '../storage/types.js';

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** `txHash = sha256(prevTxHash ‖ bodyHash)` over raw bytes. */
export function chainHash(prevTxHash: Uint8Array, bodyHash: Uint8Array): Uint8Array {
  return sha256(prevTxHash, bodyHash);
}

/** A tx record before its signature (see ChainSigner). */
export type UnsignedTxRecord = Omit<TxRecordRow, 'serverSig'>;

/** Builds the record that follows `tip`, to be signed by `serverDid`. */
export function chainTx(body: TxRecordBody, tip: ChainTip, serverDid: string): UnsignedTxRecord {
  const encoded = encodeTxBody(body);
  const bodyHash = sha256(encoded);
  return {
    epoch: body.epoch,
    committedAt: body.committedAt,
    txHash: chainHash(tip.txHash, bodyHash),
    prevTxHash: tip.txHash,
    bodyHash,
    serverDid,
    body: encoded,
  };
}
