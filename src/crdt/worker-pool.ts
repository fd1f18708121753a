import { Worker } from 'node:worker_threads';
import { CairnError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * Boots a worker: imports the job module (registering tsx first when it is a
 * TypeScript source, as under the test runner) and answers each
 * `{id, job}` with `{id, result}` or `{id, error}`. Inline, so it runs the
 * same from dist/ and from sources.
 */
const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  if (workerData.moduleUrl.endsWith('.ts')) (await import(workerData.tsxUrl)).register();
  const mod = await import(workerData.moduleUrl);
  parentPort.on('message', async ({ id, job }) => {
    try {
      const { result, transfer, retire } = await mod.handle(job);
      parentPort.postMessage({ id, result, retire }, transfer || []);
    } catch (err) {
      const error = { code: err && err.code, message: String((err && err.message) || err) };
      parentPort.postMessage({ id, error, retire: !!(err && err.retire) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((err) => { throw err; });
`;

/**
 * What a job module exports: one handler for every job it knows. `retire`
 * (on an answer, or on what it throws) asks for the worker to be replaced
 * once it has answered what it holds (its heap is no longer trusted).
 */
export interface JobModule<J, R> {
  handle(job: J): Promise<{ result: R; transfer?: ArrayBuffer[]; retire?: boolean }>;
}

export interface WorkerPoolOptions {
  /** The job module (a `.js` file of dist/, or a `.ts` source under tests). */
  moduleUrl: URL;
  name: string;
  logger: Logger;
  /**
   * Jobs heavier than this (their `weight`, e.g. bytes handled) end with the
   * worker being replaced: its memory (a WebAssembly heap never shrinks) is
   * given back. Default 16 MiB.
   */
  recycleAfterWeight?: number;
  /** A worker idle this long is replaced too (its memory given back). Default 30 s. */
  idleRecycleMs?: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  weight: number;
  /** The worker the job was sent to. */
  owner: Worker;
}

/**
 * One worker thread running a job module, started on first use and unref'd
 * while idle (it never keeps the process alive). Jobs queue in order; a
 * crashed worker fails its jobs with `Internal` and is replaced on the next
 * job. Heavy CRDT work runs here so that it never blocks the event loop.
 */
export class WorkerPool<J, R> {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  /** A heavy job ran: replace the worker as soon as it is idle. */
  private recycleDue = false;
  private idle: NodeJS.Timeout | undefined;
  /** Workers that asked to be replaced and still answer what they held. */
  private readonly retiring = new Set<Worker>();

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Runs one job; `weight` says how heavy it is (see `recycleAfterWeight`). */
  run(job: J, options: { weight?: number; transfer?: ArrayBuffer[] } = {}): Promise<R> {
    if (this.closed) return Promise.reject(new CairnError('StorageUnavailable', 'shutting down'));
    const worker = (this.worker ??= this.start());
    clearTimeout(this.idle);
    worker.ref();
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const entry = { resolve: resolve as (v: unknown) => void, reject, owner: worker };
      this.pending.set(id, { ...entry, weight: options.weight ?? 0 });
      worker.postMessage({ id, job }, options.transfer ?? []);
    });
  }

  /** Jobs sent and not yet answered. */
  get busy(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop(new CairnError('StorageUnavailable', `${this.options.name} worker closed`));
  }

  private start(): Worker {
    const { moduleUrl, name, logger } = this.options;
    const href = moduleUrl.href;
    const tsxUrl = href.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : '';
    const w = new Worker(BOOT, { eval: true, name, workerData: { moduleUrl: href, tsxUrl } });
    w.on(
      'message',
      (m: { id?: number; result?: unknown; error?: { code?: string; message: string } }) => {
        if (m.id === undefined) return;
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pendingOf(w) === 0) w.unref();
        if (!p) return;
        if (m.error) p.reject(toError(m.error));
        else p.resolve(m.result);
        if (p.weight > (this.options.recycleAfterWeight ?? 64 * 1024 * 1024))
          this.recycleDue = true;
        if (this.recycleDue && this.worker === w && this.pendingOf(w) === 0) {
          // Its memory is given back; the next job starts a fresh worker.
          this.recycleDue = false;
          this.worker = undefined;
          void w.terminate();
        }
      },
    );
    w.on('error', (err) => {
      logger.error({ err, worker: name }, 'worker failed');
      void this.stop(new CairnError('Internal', `${name} worker failed: ${err.message}`), w);
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new CairnError('Internal', `${name} worker exited`), w);
    });
    return w;
  }

  /** Replaces an idle worker: its memory is given back; the next job starts a fresh one. */
  private recycle(w: Worker): void {
    if (this.worker !== w || this.pendingOf(w) > 0) return;
    this.recycleDue = false;
    this.worker = undefined;
    void w.terminate();
  }

  private idleTimer(w: Worker): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.recycle(w), this.options.idleRecycleMs ?? 30_000);
    this.idle.unref();
  }

  private pendingOf(w: Worker): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.owner === w) n++;
    return n;
  }

  /** Stops the current worker (or `only` that one), failing what it still had. */
  private async stop(err: Error, only?: Worker): Promise<void> {
    const w = this.worker;
    if (!w || (only && only !== w)) return;
    this.worker = undefined;
    this.failAll(err, w);
    await w.terminate();
  }

  /** Fails the jobs sent to `w`. */
  private failAll(err: Error, w: Worker): void {
    for (const [id, p] of this.pending) {
      if (p.owner !== w) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

/** An error from a job: a typed one keeps its code. */
function toError(e: { code?: string; message: string }): Error {
  if (e.code && (ERROR_CODES as readonly string[]).includes(e.code)) {
    return new CairnError(e.code as ErrorCode, e.message);
  }
  const err = new Error(e.message);
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}
