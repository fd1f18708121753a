import { expect } from 'vitest';
import { getJson } from '../../helpers/http.js';
import { hashOf, Replica, write } from '../../helpers/changes.js';
import { automergeWrites } from '../../helpers/record-writes.js';
import { expectStatus, MAX_REQUESTS_PER_RUN, pause, send, type LoadContext } from './outcome.js';
import type { TxChain } from './tx-chain.js';

/** What a receipt said: these changes are stored at these seqs of this epoch. */
interface Receipted {
  docId: string;
  hashes: string[];
  seqTo: number;
  epoch: number;
  txHash: string;
}

interface ReceiptJson {
  epoch: number;
  txHash: string;
  results: { docId: string; seq: number; applied: number; duplicates: number }[];
}

/** A transaction whose answer never came: it is resent, unchanged, until one does. */
interface Pending {
  body: unknown;
  changesByDoc: Map<string, Uint8Array[]>;
}

/**
 * One Automerge writer: it owns a doc and a pair doc, and every third
 * transaction writes both (a multi-doc tx). Being the only writer of its
 * docs, it can resend a transaction whose answer was lost as is: stored,
 * it is a duplicates-only success; not stored, it commits now.
 */
class AutomergeWriter {
  readonly doc: Replica;
  readonly pair: Replica;
  readonly docId: string;
  readonly pairId: string;
  pending: Pending | undefined;
  /** Whether `pending` has had an unknown outcome (then its answer says whether it had landed). */
  unknown = false;
  sent = 0;

  constructor(index: number) {
    this.docId = `am/${index}`;
    this.pairId = `am/${index}/pair`;
    this.doc = new Replica(0x100 + index);
    this.pair = new Replica(0x200 + index);
  }

  next(): Pending {
    const n = this.sent++;
    const base = this.doc.heads;
    const own = [this.doc.change((d) => void (d[`n${n}`] = n))];
    if (n % 2 === 1) own.push(this.doc.change((d) => void (d[`m${n}`] = n)));
    const changesByDoc = new Map([[this.docId, own]]);
    const writes = [write(this.docId, own, base)];
    if (n % 3 === 2) {
      const pairBase = this.pair.heads;
      const pc = this.pair.change((d) => void (d[`p${n}`] = n));
      changesByDoc.set(this.pairId, [pc]);
      writes.push(write(this.pairId, [pc], pairBase));
    }
    return { body: { writes }, changesByDoc };
  }
}

/**
 * The Automerge part of the crash load: writers over `POST /v1/:space/tx`,
 * a ledger of every receipt, and the checks of that ledger against a
 * restarted server's logs and tx chain.
 */
export class AutomergeLoad {
  private readonly writers: AutomergeWriter[];
  private readonly receipts: Receipted[] = [];
  /** Changes a resend was told are already stored (a lost answer whose tx had landed). */
  private readonly stored: { docId: string; hashes: string[] }[] = [];
  /** Transactions acknowledged (a receipt that applied changes). */
  acked = 0;
  /** Lost answers (lost or 503) whose resend found the tx stored in full / not at all. */
  readonly lost = { landed: 0, absent: 0 };

  constructor(writers: number) {
    this.writers = Array.from({ length: writers }, (_, i) => new AutomergeWriter(i));
  }

  /** Runs every writer until `ctx.stopped()`. */
  async run(ctx: LoadContext): Promise<void> {
    await Promise.all(this.writers.map((w) => this.runWriter(w, ctx)));
  }

  private async runWriter(w: AutomergeWriter, ctx: LoadContext): Promise<void> {
    for (let i = 0; i < MAX_REQUESTS_PER_RUN && !ctx.stopped(); i++) {
      w.pending ??= w.next();
      const out = await send('POST', `${ctx.base}/tx`, w.pending.body);
      if (out.kind === 'unknown') {
        w.unknown = true;
        await pause(50);
        continue;
      }
      expectStatus(out, [200], 'tx');
      const receipt = out.json as ReceiptJson;
      // All or nothing: a resend finds every doc of its tx stored, or none.
      const dupDocs = receipt.results.filter((r) => r.applied === 0).length;
      expect([0, receipt.results.length], JSON.stringify(receipt)).toContain(dupDocs);
      for (const r of receipt.results) {
        const hashes = (w.pending.changesByDoc.get(r.docId) ?? []).map(hashOf);
        if (r.applied === 0) {
          expect(r.duplicates).toBe(hashes.length);
          this.stored.push({ docId: r.docId, hashes });
        } else {
          expect(r.applied).toBe(hashes.length);
          this.receipts.push({
            docId: r.docId,
            hashes,
            seqTo: r.seq,
            epoch: receipt.epoch,
            txHash: receipt.txHash,
          });
        }
      }
      if (dupDocs === 0) this.acked++;
      if (w.unknown) this.lost[dupDocs === 0 ? 'absent' : 'landed']++;
      w.pending = undefined;
      w.unknown = false;
    }
  }

  /** Every receipted change where its receipt said; lost answers all-or-none; logs covered by the chain. */
  async check(base: string, chain: TxChain): Promise<void> {
    const logs = new Map<string, { seq: number; epoch: number; hash: string }[]>();
    for (const docId of this.writers.flatMap((w) => [w.docId, w.pairId])) {
      logs.set(docId, await readLog(base, docId));
    }
    for (const r of this.receipts) {
      const rec = chain.record(r.epoch);
      expect(rec?.txHash, `receipted epoch ${r.epoch} is in the chain`).toBe(r.txHash);
      const w = automergeWrites(rec?.writes).find((x) => x.docId === r.docId);
      expect(w?.seqTo, `epoch ${r.epoch} writes ${r.docId}`).toBe(r.seqTo);
      const log = logs.get(r.docId) ?? [];
      r.hashes.forEach((hash, k) => {
        const seq = r.seqTo - r.hashes.length + 1 + k;
        expect(log[seq - 1], `${r.docId} seq ${seq} (epoch ${r.epoch})`).toEqual({
          seq,
          epoch: r.epoch,
          hash,
        });
      });
    }
    for (const s of this.stored) {
      const log = logs.get(s.docId) ?? [];
      for (const h of s.hashes) expect(log.filter((i) => i.hash === h)).toHaveLength(1);
    }
    for (const w of this.writers) {
      if (!w.pending || !w.unknown) continue;
      const present = [...w.pending.changesByDoc].map(([docId, changes]) => {
        const hashes = new Set((logs.get(docId) ?? []).map((i) => i.hash));
        return changes.filter((c) => hashes.has(hashOf(c))).length / changes.length;
      });
      const allOrNone = present.every((p) => p === 1) || present.every((p) => p === 0);
      expect(allOrNone, `half-visible tx of ${w.docId}: ${present}`).toBe(true);
    }
    // Every log entry is covered by exactly one write of the chain, with its epoch.
    const covered = new Map<string, number>();
    for (const rec of chain.records) {
      for (const w of automergeWrites(rec.writes)) {
        const log = logs.get(w.docId);
        expect(w.seqFrom, `${w.docId} at epoch ${rec.epoch}`).toBe((covered.get(w.docId) ?? 0) + 1);
        for (let s = w.seqFrom; s <= w.seqTo; s++) expect(log?.[s - 1]?.epoch).toBe(rec.epoch);
        covered.set(w.docId, w.seqTo);
      }
    }
    for (const [docId, log] of logs) {
      expect(covered.get(docId) ?? 0, `log of ${docId} covered by the chain`).toBe(log.length);
      expect(new Set(log.map((i) => i.hash)).size, `${docId}: no change twice`).toBe(log.length);
    }
  }
}

/** A doc's whole log (`[]` for a doc whose first write never landed). */
async function readLog(
  base: string,
  docId: string,
): Promise<{ seq: number; epoch: number; hash: string }[]> {
  const items: { seq: number; epoch: number; hash: string }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const q = `?limit=200${cursor ? `&cursor=${cursor}` : ''}`;
    const { status, json } = await getJson<{
      items: { seq: number; epoch: number; hash: string }[];
      nextCursor?: string;
    }>(`${base}/docs/${encodeURIComponent(docId)}/changes${q}`);
    if (status === 404 && page === 0) return [];
    expect(status, JSON.stringify(json)).toBe(200);
    items.push(...json.items.map(({ seq, epoch, hash }) => ({ seq, epoch, hash })));
    cursor = json.nextCursor;
    if (cursor === undefined) return items;
  }
  throw new Error(`changes of ${docId} do not end`);
}
