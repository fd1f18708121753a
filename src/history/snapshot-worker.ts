import { Worker } from 'node:worker_threads';
import type { SnapshotScript } from '../crdt/doc-kind.js';

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

export const BASE_CORRUPT = 'BASE_CORRUPT';

/**
 * One worker thread building snapshots of one document kind (its
 * `SnapshotScript`): loading, applying and saving a big doc takes long
 * enough to stall every request if done on the main thread. Started on first
 * use; unref'd while idle so it never keeps the process alive.
 */
export class SnapshotWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (s: BuiltSnapshot) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly script: SnapshotScript) {}

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
    const w = new Worker(this.script.source, { eval: true, workerData: this.script.data });
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
