import { Worker } from 'node:worker_threads';
import { CairnError, ERROR_CODES, type ErrorCode, type ErrorDetails } from '../core/errors.js';
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
      const error = { code: err && err.code, message: String((err && err.message) || err), details: err && err.details };
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

/** A worker's answer to one job (`retire`: replace it once it has answered what it holds). */
interface Answer {
  id?: number;
  result?: unknown;
  /** A thrown error: a CairnError keeps its code and details. */
  error?: { code?: string; message: string; details?: ErrorDetails };
  retire?: boolean;
}

const DEFAULT_RECYCLE_WEIGHT = 16 * 1024 * 1024;
const DEFAULT_IDLE_RECYCLE_MS = 30_000;

/**
 * One worker thread running a job module, started on first use and unref'd
 * while idle (it never keeps the process alive). Jobs queue in order; a
 * crashed worker fails its jobs with `Internal` and is replaced on the next
 * job. Heavy CRDT work runs here so that it never blocks the event loop.
 * A worker is replaced — its memory given back, since a WebAssembly heap
 * never shrinks — when it has been idle `idleRecycleMs`, after a job heavier
 * than `recycleAfterWeight`, or when it asks to retire.
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
  /** Workers started so far, counting replacements (for tests and metrics). */
  started = 0;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Runs one job; `weight` says how heavy it is (see `recycleAfterWeight`). */
  run(job: J, options: { weight?: number; transfer?: ArrayBuffer[] } = {}): Promise<R> {
    if (this.closed) return Promise.reject(new CairnError('StorageUnavailable', 'shutting down'));
    const worker = (this.worker ??= this.start());
    clearTimeout(this.idle);
    worker.ref();
    const id = this.nextId++;
    // Without a transfer list, views are sent compacted: cloning a view
    // copies its whole buffer (a 100-byte change cut from a 10 MiB body).
    const message = { id, job: options.transfer ? job : compactViews(job) };
    return new Promise<R>((resolve, reject) => {
      const entry = { resolve: resolve as (v: unknown) => void, reject, owner: worker };
      this.pending.set(id, { ...entry, weight: options.weight ?? 0 });
      worker.postMessage(message, options.transfer ?? []);
    });
  }

  /** Jobs sent and not yet answered. */
  get busy(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idle);
    const err = new CairnError('StorageUnavailable', `${this.options.name} worker closed`);
    const retiring = [...this.retiring];
    this.retiring.clear();
    for (const w of retiring) this.failAll(err, w);
    await Promise.all([this.stop(err), ...retiring.map((w) => w.terminate())]);
  }

  private start(): Worker {
    const { moduleUrl, name, logger } = this.options;
    const href = moduleUrl.href;
    const tsxUrl = href.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : '';
    const w = new Worker(BOOT, { eval: true, name, workerData: { moduleUrl: href, tsxUrl } });
    this.started++;
    w.on('message', (m: Answer) => this.answered(w, m));
    w.on('error', (err) => {
      logger.error({ err, worker: name }, 'worker failed');
      void this.stop(new CairnError('Internal', `${name} worker failed: ${err.message}`), w);
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.retiring.delete(w);
      this.failAll(new CairnError('Internal', `${name} worker exited`), w);
    });
    return w;
  }

  private answered(w: Worker, m: Answer): void {
    if (m.id === undefined) return;
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    if (m.retire && !this.retiring.has(w)) {
      // New jobs go to a fresh worker; this one ends once it has answered.
      this.options.logger.warn({ worker: this.options.name }, 'worker retired');
      if (this.worker === w) this.worker = undefined;
      this.retiring.add(w);
    }
    if (p) {
      if (m.error) p.reject(toError(m.error));
      else p.resolve(m.result);
      if (p.weight > (this.options.recycleAfterWeight ?? DEFAULT_RECYCLE_WEIGHT))
        this.recycleDue = true;
    }
    if (this.pendingOf(w) > 0) return;
    w.unref();
    if (this.retiring.delete(w)) void w.terminate();
    else if (this.recycleDue) this.recycle(w);
    else if (this.worker === w) this.idleTimer(w);
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
    const ms = this.options.idleRecycleMs ?? DEFAULT_IDLE_RECYCLE_MS;
    this.idle = setTimeout(() => this.recycle(w), ms);
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

/**
 * A copy of a job in which every byte view that does not span its whole
 * buffer is its own compact copy (jobs are small trees of plain objects,
 * arrays and byte arrays).
 */
export function compactViews<T>(value: T, depth = 0): T {
  if (value instanceof Uint8Array) {
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
    return (whole ? value : new Uint8Array(value)) as T;
  }
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => compactViews(v, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = compactViews(v, depth + 1);
  return out as T;
}

/** An error from a job: a typed one keeps its code. */
function toError(e: NonNullable<Answer['error']>): Error {
  if (e.code && (ERROR_CODES as readonly string[]).includes(e.code)) {
    return new CairnError(e.code as ErrorCode, e.message, e.details ?? {});
  }
  const err = new Error(e.message);
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}
