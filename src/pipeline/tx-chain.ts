import { createHash } from 'node:crypto';
import * as dagCbor from '@ipld/dag-cbor';
import { hexToBytes } from '../storage/hash-codec.js';
import type { ChainTip, TxRecordRow } from '../storage/types.js';

/** One write as committed to the tx chain. */
export interface TxBodyWrite {
  docId: string;
  branch: string;
  seqFrom: number;
  seqTo: number;
  newHeads: string[];
  /** sha256 over the 32 raw bytes of each appended change hash, in seq order (hex). */
  changesHash: string;
}

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

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function changesHash(hashes: readonly string[]): string {
  return Buffer.from(sha256(...hashes.map((h) => hexToBytes(h)))).toString('hex');
}

export function encodeTxBody(body: TxBody): Uint8Array {
  return dagCbor.encode(body);
}

export function decodeTxBody(bytes: Uint8Array): TxBody {
  return dagCbor.decode(bytes) as TxBody;
}

/** `txHash = sha256(prevTxHash ‖ bodyHash)` over raw bytes. */
export function chainHash(prevTxHash: Uint8Array, bodyHash: Uint8Array): Uint8Array {
  return sha256(prevTxHash, bodyHash);
}

/** A tx record before its signature (see ChainSigner). */
export type UnsignedTxRecord = Omit<TxRecordRow, 'serverSig'>;

/** Builds the record that follows `tip`, to be signed by `serverDid`. */
export function chainTx(body: TxBody, tip: ChainTip, serverDid: string): UnsignedTxRecord {
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
