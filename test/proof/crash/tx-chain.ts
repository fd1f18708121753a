import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { ed25519FromDidKey, verifyEd25519 } from '../../../src/auth/server-identity.js';
import { txRecordFromView } from '../../../src/protocol/tx-record.js';
import type { TxRecordView } from '../../../src/protocol/views.js';
import { getJson } from '../../helpers/http.js';

/** Most records one check reads (a bound on the loop; far above what a run commits). */
const MAX_NEW_RECORDS = 200_000;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * A space's tx chain as read back from a (restarted) server, checked
 * incrementally: each `refresh` (from the server at `base`, `…/v1/<space>`) re-reads the last record it had (still the
 * same txHash: the history it vouches for is unchanged) and then every new
 * one until the 404 past the tip, each with a dense epoch, a link to the
 * previous txHash, a bodyHash of its own body, txHash = sha256(prev ‖ body)
 * and the server's signature. The whole chain is re-derived by `cairn
 * verify` too; this copy lets the crash test match receipts to records.
 */
export class TxChain {
  readonly records: TxRecordView[] = [];

  constructor(private readonly serverDid: string) {}

  get tip(): number {
    return this.records.length;
  }

  record(epoch: number): TxRecordView | undefined {
    return this.records[epoch - 1];
  }

  /** Reads and checks what was committed since the last refresh; returns how many records are new. */
  async refresh(base: string): Promise<number> {
    const last = this.records[this.records.length - 1];
    if (last) {
      const again = await getJson<TxRecordView>(`${base}/tx/${last.epoch}`);
      expect(again.status, `tx record ${last.epoch} is gone after the restart`).toBe(200);
      expect(again.json.txHash, `tx record ${last.epoch} changed`).toBe(last.txHash);
    }
    const publicKey = ed25519FromDidKey(this.serverDid);
    for (let n = 0; n < MAX_NEW_RECORDS; n++) {
      const epoch = this.records.length + 1;
      const { status, json } = await getJson<TxRecordView & { error?: { code: string } }>(
        `${base}/tx/${epoch}`,
      );
      if (status === 404) {
        expect(json.error?.code).toBe('VersionNotFound');
        return n;
      }
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.epoch, 'epochs are dense').toBe(epoch);
      const prev = this.records[epoch - 2];
      expect(json.prevTxHash, `epoch ${epoch} links to ${epoch - 1}`).toBe(
        prev?.txHash ?? '00'.repeat(32),
      );
      if (prev) expect(json.committedAt).toBeGreaterThanOrEqual(prev.committedAt);
      const bytes = txRecordFromView(json);
      expect(bytes, `epoch ${epoch} has well-formed hashes`).toBeDefined();
      if (!bytes) return n;
      const bodyHash = createHash('sha256').update(bytes.body).digest();
      expect(hex(bodyHash), `epoch ${epoch} bodyHash`).toBe(json.bodyHash);
      const txHash = createHash('sha256').update(bytes.prevTxHash).update(bodyHash).digest();
      expect(hex(txHash), `epoch ${epoch} txHash`).toBe(json.txHash);
      expect(verifyEd25519(publicKey, txHash, bytes.serverSig), `epoch ${epoch} signed`).toBe(true);
      this.records.push(json);
    }
    throw new Error('tx chain does not end');
  }
}
