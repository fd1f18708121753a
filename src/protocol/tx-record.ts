import * as dagCbor from '@ipld/dag-cbor';

import type { z } from 'zod';
import { decodeBase64UrlStrict } from './base64.js';
import type { TxRecordView, txRecordWrite, txRecordYjsWrite } from './views.js';

/** One write as committed to the tx chain (`changesHash`: see DocKind.contentDigest). */
export type TxRecordWrite = z.infer<typeof txRecordWrite>;
/** One Yjs update as committed to the tx chain (SPEC §11). */
export type TxRecordYjsWrite = z.infer<typeof txRecordYjsWrite>;
/** Any write of a tx record. */
export type AnyTxRecordWrite = TxRecordWrite | TxRecordYjsWrite;

/** Whether a record's write is a Yjs update (else a write to a branch log). */
export function isYjsWrite(w: AnyTxRecordWrite): w is TxRecordYjsWrite {
  return (w as { kind?: unknown }).kind === 'yjs';
}

/**
 * What a tx record commits to. Its deterministic encoding is DAG-CBOR (map
 * keys sorted, shortest integers), and `bodyHash` is the SHA-256 of that
 * encoding; docs/TX-CHAIN.md shows how to recompute it offline.
 */
export interface TxRecordBody {
  v: 1;
  space: string;
  epoch: number;
  committedAt: number;
  clientDid?: string;
  writes: AnyTxRecordWrite[];
}

export function encodeTxBody(body: TxRecordBody): Uint8Array {
  return dagCbor.encode(body);
}

export function decodeTxBody(bytes: Uint8Array): TxRecordBody {
  return dagCbor.decode(bytes) as TxRecordBody;
}

/** A tx record in bytes, as stored and as an offline auditor rebuilds it from its JSON view. */
export interface TxRecordBytes {
  epoch: number;
  committedAt: number;
  txHash: Uint8Array;
  prevTxHash: Uint8Array;
  bodyHash: Uint8Array;
  serverSig: Uint8Array;
  serverDid: string;
  /** The DAG-CBOR encoding whose SHA-256 is `bodyHash`. */
  body: Uint8Array;
}

/**
 * A served record (`GET /v1/:space/tx/:epoch`) back in bytes: its hashes and
 * signature decoded, its body re-encoded from the served fields (DAG-CBOR is
 * deterministic, so an unchanged body re-encodes to the same bytes).
 * Undefined if a field is not the encoding it must be.
 */
export function txRecordFromView(view: TxRecordView): TxRecordBytes | undefined {
  const body: TxRecordBody = {
    v: 1,
    space: view.space,
    epoch: view.epoch,
    committedAt: view.committedAt,
    writes: view.writes,
  };
  if (view.clientDid !== undefined) body.clientDid = view.clientDid;
  const txHash = fromHex(view.txHash);
  const prevTxHash = fromHex(view.prevTxHash);
  const bodyHash = fromHex(view.bodyHash);
  const serverSig = decodeBase64UrlStrict(view.serverSig);
  if (!txHash || !prevTxHash || !bodyHash || !serverSig) return undefined;
  return {
    epoch: view.epoch,
    committedAt: view.committedAt,
    txHash,
    prevTxHash,
    bodyHash,
    serverSig,
    serverDid: view.serverDid,
    body: encodeTxBody(body),
  };
}

function fromHex(text: string): Uint8Array | undefined {
  if (!/^([0-9a-f]{2})*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}
