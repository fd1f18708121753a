import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { WorkerPool } from '../crdt/worker-pool.js';
import type { TxRequest } from '../protocol/tx-request.js';
import type { TxBodyJob } from './tx-body-worker.js';

/**
 * Transaction bodies at least this big are parsed on a worker thread: a
 * 4 MiB body is ~40 ms of UTF-8 decoding, JSON parsing and base64 decoding,
 * which on the event loop would stall every other request for as long.
 * Smaller ones are parsed inline (a worker round trip is ~0.05 ms, but most
 * bodies are a few hundred bytes and parse faster than that).
 */
export const OFF_THREAD_BODY_BYTES = 256 * 1024;

/** A parsed body is never heavier than this many bytes; a pool worker is replaced after one. */
const RECYCLE_AFTER_BYTES = 64 * 1024 * 1024;

/** Parses big `POST /tx` bodies off the event loop (server/tx-body-worker.ts). */
export class TxBodyParser {
  private readonly pool: WorkerPool<TxBodyJob, TxRequest>;

  constructor(logger: Logger) {
    this.pool = new WorkerPool<TxBodyJob, TxRequest>({
      // Beside this file: its .ts source under the test runner, its .js build in dist/.
      moduleUrl: new URL(
        import.meta.url.endsWith('.ts') ? './tx-body-worker.ts' : './tx-body-worker.js',
        import.meta.url,
      ),
      name: 'tx-bodies',
      logger,
      recycleAfterWeight: RECYCLE_AFTER_BYTES,
    });
  }

  /**
   * The body (which this call takes over: its buffer moves to the worker) as
   * a checked `TxRequest`, or the same typed error parsing it inline gives.
   */
  parse(body: Uint8Array, limits: Limits): Promise<TxRequest> {
    const owned =
      body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice();
    return this.pool.run(
      { body: owned, limits },
      { weight: owned.byteLength, transfer: [owned.buffer as ArrayBuffer] },
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
