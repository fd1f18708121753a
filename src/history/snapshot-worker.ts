import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A snapshot built off the main thread: saved bytes and the heads they reload to. */
export interface BuiltSnapshot {
  bytes: Uint8Array;
  heads: string[];
}

export interface SnapshotBase {
  bytes: Uint8Array;
  /** The heads the base must load to; a base that does not is ignored. */
  heads: string[];
}

/**
 * Loads, applies and saves on a worker thread: Automerge work on a big doc
 * takes long enough to stall every request if done on the main thread. The
 * worker checks its inputs and output: a base that does not load to its
 * recorded heads is refused, and the saved bytes are reloaded and compared.
 * Its source is inline, so it runs the same from `dist/` and from sources.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const A = require(workerData.automergePath);
const sorted = (doc) => [...A.getHeads(doc)].sort();
parentPort.on('message', ({ id, base, tail }) => {
  try {
    let doc = A.init();
    if (base) {
      doc = A.load(base.bytes);
      if (sorted(doc).join() !== [...base.heads].sort().join()) throw new Error('BASE_CORRUPT');
    }
    if (tail.length > 0) doc = A.loadIncremental(doc, Buffer.concat(tail));
    const heads = sorted(doc);
    const bytes = A.save(doc);
    if (sorted(A.load(bytes)).join() !== heads.join()) throw new Error('saved bytes do not reload');
    parentPort.postMessage({ id, bytes, heads });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

export const BASE_CORRUPT = 'BASE_CORRUPT';

export class SnapshotWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (s: BuiltSnapshot) => void; reject: (e: Error) => void }
  >();

  build(base: SnapshotBase | undefined, tail: Uint8Array[]): Promise<BuiltSnapshot> {
    const worker = (this.worker ??= this.start());
    worker.ref();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, base, tail });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('snapshot worker closed'));
  }

  private start(): Worker {
    const automergePath = createRequire(import.meta.url).resolve('@automerge/automerge');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { automergePath } });
    w.on('message', (m: { id: number; bytes?: Uint8Array; heads?: string[]; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (!p) return;
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve({ bytes: m.bytes as Uint8Array, heads: m.heads as string[] });
    });
    w.on('error', (err) => this.failAll(err));
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new Error('snapshot worker exited'));
    });
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
