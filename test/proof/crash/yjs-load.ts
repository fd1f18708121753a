import { expect } from 'vitest';
import * as Y from 'yjs';
import { isYjsWrite } from '../../../src/protocol/tx-record.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import { connectProvider } from '../../helpers/yjs-provider.js';
import { expectStatus, MAX_REQUESTS_PER_RUN, pause, send, type LoadContext } from './outcome.js';
import type { TxChain } from './tx-chain.js';

/** An HTTP writer: its own Y.Doc (own clientID), each update resent until it is answered. */
interface HttpWriter {
  docId: string;
  doc: Y.Doc;
  pending: Uint8Array | undefined;
  n: number;
}

/**
 * The Yjs part of the crash load (SPEC §11). Per doc: two stock y-websocket
 * providers typing, a third provider that only watches, and an HTTP writer
 * posting updates. Acknowledged, per the promise "durable before visible":
 * every `POST …/updates` answered `applied: 1` (or `applied: 0` for a resend
 * of a lost one) and every update the server broadcast to the watcher. A
 * check applies all of them to the state the server serves and requires that
 * nothing changes.
 */
export class YjsLoad {
  readonly docIds: string[];
  private readonly http: HttpWriter[];
  /** Per doc: acknowledged updates, merged into one after each check. */
  private readonly acked = new Map<string, Uint8Array[]>();
  /** HTTP answers with their epoch, to find in the tx chain. */
  private readonly epochs: { docId: string; epoch: number }[] = [];
  counts = { http: 0, broadcast: 0 };

  constructor(
    docs: number,
    private readonly rng: SeededRandom,
  ) {
    this.docIds = Array.from({ length: docs }, (_, i) => `ydoc-${i}`);
    this.http = this.docIds.map((docId) => ({ docId, doc: new Y.Doc(), pending: undefined, n: 0 }));
    for (const d of this.docIds) this.acked.set(d, []);
  }

  get ackedTotal(): number {
    return this.counts.http + this.counts.broadcast;
  }

  /**
   * Connects fresh providers (fresh docs: nothing typed in an earlier run is
   * resent to hide a loss), types and posts until `ctx.stopped()`, then
   * closes them.
   */
  async run(ctx: LoadContext, serverUrl: string, space: string): Promise<void> {
    const conns = this.docIds.map((docId) => ({
      docId,
      typists: [0, 1].map(() => connectProvider(serverUrl, space, docId)),
      watcher: connectProvider(serverUrl, space, docId),
    }));
    try {
      for (const c of conns) {
        c.watcher.doc.on('update', (update: Uint8Array, origin: unknown) => {
          if (origin !== c.watcher.provider) return;
          this.acked.get(c.docId)?.push(update);
          this.counts.broadcast++;
        });
      }
      await Promise.all([
        ...conns.flatMap((c) => c.typists.map((t) => this.type(t, ctx))),
        ...this.http.map((w) => this.post(w, ctx)),
      ]);
    } finally {
      for (const c of conns) for (const p of [...c.typists, c.watcher]) p.close();
    }
  }

  private async type(t: ReturnType<typeof connectProvider>, ctx: LoadContext): Promise<void> {
    const text = t.doc.getText('t');
    for (let i = 0; i < MAX_REQUESTS_PER_RUN && !ctx.stopped(); i++) {
      await pause(10 + this.rng.int(30));
      if (!t.provider.synced || !t.provider.wsconnected) continue;
      // Mostly typing, now and then a deletion (delete sets must survive too).
      if (text.length > 4 && this.rng.chance(0.15)) text.delete(this.rng.int(text.length - 2), 2);
      else text.insert(this.rng.int(text.length + 1), String.fromCharCode(97 + this.rng.int(26)));
    }
  }

  private async post(w: HttpWriter, ctx: LoadContext): Promise<void> {
    for (let i = 0; i < MAX_REQUESTS_PER_RUN && !ctx.stopped(); i++) {
      if (!w.pending) {
        const before = Y.encodeStateVector(w.doc);
        w.doc.getMap('http').set(`n${w.n++}`, w.n);
        w.pending = Y.encodeStateAsUpdate(w.doc, before);
      }
      const out = await send('POST', `${ctx.base}/yjs/${w.docId}/updates`, w.pending);
      if (out.kind === 'unknown') {
        await pause(50);
        continue;
      }
      expectStatus(out, [200], `yjs post ${w.docId}`);
      const answer = out.json as { applied: number; epoch: number };
      this.acked.get(w.docId)?.push(w.pending);
      if (answer.applied === 1) {
        this.epochs.push({ docId: w.docId, epoch: answer.epoch });
        this.counts.http++;
      }
      w.pending = undefined;
      await pause(20);
    }
  }

  /** The served state of every doc holds every acknowledged update; HTTP epochs are in the chain. */
  async check(base: string, chain: TxChain): Promise<void> {
    for (const { docId, epoch } of this.epochs) {
      const writes = chain.record(epoch)?.writes ?? [];
      expect(
        writes.some((w) => isYjsWrite(w) && w.docId === docId),
        `epoch ${epoch} commits the acknowledged Yjs update of ${docId}`,
      ).toBe(true);
    }
    for (const docId of this.docIds) {
      const updates = this.acked.get(docId) ?? [];
      const res = await fetch(`${base}/yjs/${docId}`, { signal: AbortSignal.timeout(15_000) });
      const state = new Uint8Array(await res.arrayBuffer());
      if (res.status === 404 && updates.length === 0) continue;
      expect(res.status, `state of ${docId}`).toBe(200);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, state);
      const before = Y.snapshot(doc);
      const merged = Y.mergeUpdates(updates);
      Y.applyUpdate(doc, merged);
      expect(doc.store.pendingStructs, `${docId}: acknowledged updates need missing ones`).toBe(
        null,
      );
      expect(
        Y.equalSnapshots(before, Y.snapshot(doc)),
        `${docId}: the served state lacks acknowledged updates`,
      ).toBe(true);
      this.acked.set(docId, [merged]);
      doc.destroy();
    }
  }
}
