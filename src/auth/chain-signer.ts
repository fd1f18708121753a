import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/logger.js';
import type { ServerIdentity } from './server-identity.js';

/**
 * Below this many records in one write batch, signing inline is cheaper than
 * the round trip to the worker (measured: an Ed25519 signature costs 20-30 µs
 * on the main thread, a hop to the worker and back about as much).
 */
export const WORKER_SIGNING_MIN_RECORDS = 4;
/**
 * Hashes per message to the worker: each message costs the main thread an
 * event, so they travel in small groups; what is left over when the batch
 * ends is signed inline meanwhile.
 */
export const WORKER_SIGNING_CHUNK = 8;

/** The signatures of one write batch's tx records, in the order their hashes were added. */
export interface SigningRound {
  add(txHash: Uint8Array): void;
  finish(): Promise<Uint8Array[]>;
}

/** Its source is inline, so it runs the same from `dist/` and from sources. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
parentPort.on('message', ({ id, hashes }) => {
  parentPort.postMessage({ id, sigs: hashes.map((h) => crypto.sign(null, h, workerData.key)) });
});
`;

interface Pending {
  resolve: (sigs: Uint8Array[]) => void;
  reject: (err: Error) => void;
}

/**
 * Signs tx records. A big write batch (group commit under load) sends each
 * hash to a worker thread as soon as it is chained, so the signatures are
 * made on the other core while the main thread checks and writes the rest of
 * the batch; the batch waits for them before it writes the records and
 * commits, so every record is durable with its signature, as SPEC §2 step 9
 * asks. Ed25519 is deterministic: the worker's signature is the very one the
 * main thread would make. A small batch signs inline, and so does every
 * batch after the worker failed once (logged).
 */
export class ChainSigner {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly identity: ServerIdentity,
    private readonly logger: Logger,
  ) {}

  /** A round for a batch expected to append up to `expectedRecords` records. */
  begin(expectedRecords: number): SigningRound {
    if (expectedRecords < WORKER_SIGNING_MIN_RECORDS || this.broken) return this.inlineRound();
    return this.workerRound();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.broken = true;
    if (w) await w.terminate();
    this.failAll(new Error('chain signer closed'));
  }

  private inlineRound(): SigningRound {
    const sigs: Uint8Array[] = [];
    return {
      add: (txHash) => void sigs.push(this.identity.sign(txHash)),
      finish: async () => sigs,
    };
  }

  private workerRound(): SigningRound {
    const hashes: Uint8Array[] = [];
    const chunks: Promise<Uint8Array[]>[] = [];
    let sent = 0;
    return {
      add: (txHash) => {
        hashes.push(txHash);
        if (hashes.length - sent >= WORKER_SIGNING_CHUNK) {
          chunks.push(this.signOnWorker(hashes.slice(sent)));
          sent = hashes.length;
        }
      },
      finish: async () => {
        const rest = hashes.slice(sent).map((h) => this.identity.sign(h));
        try {
          return [...(await Promise.all(chunks)).flat(), ...rest];
        } catch (err) {
          // Whatever went wrong with the worker, the batch still gets its signatures.
          this.markBroken(err);
          return hashes.map((h) => this.identity.sign(h));
        }
      },
    };
  }

  private signOnWorker(hashes: Uint8Array[]): Promise<Uint8Array[]> {
    const worker = (this.worker ??= this.start());
    if (this.pending.size === 0) worker.ref();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, hashes });
    });
  }

  private start(): Worker {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { key: this.identity.privateKey },
    });
    w.on('message', (m: { id: number; sigs: Uint8Array[] }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      // An idle signer must not keep the process alive.
      if (this.pending.size === 0) w.unref();
      p?.resolve(m.sigs.map((sig) => new Uint8Array(sig)));
    });
    w.on('error', (err) => this.markBroken(err));
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new Error('chain signer worker exited'));
    });
    return w;
  }

  private markBroken(err: unknown): void {
    if (!this.broken)
      this.logger.warn({ err }, 'signing worker failed; signing inline from now on');
    this.broken = true;
    this.failAll(err instanceof Error ? err : new Error(String(err)));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
