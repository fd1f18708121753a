/** `GET /v1/:space/tx/:epoch` (SPEC §3): one record of a space's tx chain, as served. */
export interface TxRecordView {
  epoch: number;
  committedAt: number;
  /** Lowercase hex; `txHash = sha256(prevTxHash ‖ bodyHash)` over raw bytes. */
  txHash: string;
  prevTxHash: string;
  bodyHash: string;
  /** base64url Ed25519 signature of the raw `txHash` by `serverDid`. */
  serverSig: string;
  serverDid: string;
  clientDid?: string;
  space: string;
  writes: {
    docId: string;
    branch: string;
    seqFrom: number;
    seqTo: number;
    newHeads: string[];
    changesHash: string;
  }[];
}
