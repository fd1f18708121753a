import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { TxOutcome } from '../../src/protocol/receipt.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { hashOf, Replica, write } from '../helpers/changes.js';

/**
 * SPEC §8 degraded mode on PostgreSQL: when the database drops every
 * connection of cairn (here: `pg_terminate_backend` from an admin session,
 * before, during and right after write batches), a transaction answers
 * `StorageUnavailable` or commits once the pool reconnects — never
 * `Internal`, never a crashed process — reads keep working afterwards, and
 * nothing acknowledged is lost.
 */

const SPACE = 'did:key:z6MkDegradedPostgres';
const WRITERS = 12;
const ROUNDS = 8;
const RECOVERY_ATTEMPTS = 40;
const RECOVERY_PAUSE_MS = 50;

interface Writer {
  docId: string;
  replica: Replica;
  heads: string[];
  /** Changes sent without a receipt yet (maybe stored: a lost COMMIT answer); resent in order. */
  pending: Uint8Array[];
  n: number;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * pg emits 'error' on a client whose connection dies (always when the socket
 * ends, and for a FATAL message that arrives between queries). A pool client
 * that is checked out has no pool listener: with none of cairn's either, that
 * event is an uncaught exception (a crash for an app that embeds cairn). This
 * records such emissions so a test can name them; they still throw as before.
 */
const unlistenedErrors: string[] = [];
const originalEmit = pg.Client.prototype.emit;
beforeAll(() => {
  pg.Client.prototype.emit = function (
    this: pg.Client,
    event: string | symbol,
    ...args: unknown[]
  ) {
    if (event === 'error' && this.listenerCount('error') === 0) {
      unlistenedErrors.push(String((args[0] as Error | undefined)?.message));
    }
    return originalEmit.call(this, event, ...args);
  } as typeof originalEmit;
});
afterAll(() => {
  pg.Client.prototype.emit = originalEmit;
});

interface Setup {
  cairn: Cairn;
  /** Kills every backend of cairn's database; returns how many. */
  terminate(): Promise<number>;
  /** What the engine logged for failed batches: the cause of any `Internal`. */
  batchErrors: string[];
  tx(body: unknown): Promise<TxOutcome>;
  get(path: string): Promise<Response>;
}

async function setup(): Promise<Setup> {
  const db: TestDatabase = await createTestDatabase();
  cleanups.push(() => db.drop());
  const dbName = new URL(db.url).pathname.slice(1);
  const batchErrors: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    error: (obj, msg) => {
      const err = (obj as { err?: { code?: unknown; message?: unknown } }).err;
      batchErrors.push(`${msg}: ${String(err?.code ?? '')} ${String(err?.message ?? '')}`);
    },
  };
  const cairn: Cairn = await createCairn({
    logger,
    databaseUrl: db.url,
    serverKey: Buffer.alloc(32, 7).toString('base64url'),
    auth: 'off',
  });
  cleanups.push(() => cairn.close());
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  cleanups.push(() => admin.end());
  return {
    cairn,
    batchErrors,
    terminate: async () => {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid()) t`,
        [dbName],
      );
      return rows[0]?.n ?? 0;
    },
    tx: (body) => cairn.pipeline.commit(SPACE, parseTxRequest(body, cairn.limits)),
    get: (path) =>
      Promise.resolve(cairn.fetch(new Request(`http://cairn.test/v1/${SPACE}${path}`))),
  };
}

describe('degraded PostgreSQL', () => {
  it('a connection lost while a batch holds it is StorageUnavailable, not an uncaught error', async () => {
    const { cairn, terminate, batchErrors, tx, get } = await setup();
    unlistenedErrors.length = 0;
    const base = new Replica(0x500);
    const first = await tx({ writes: [write('held', [base.change((d) => (d.v = 1))])] });
    expect(first.ok).toBe(true);
    const heads = first.ok ? (first.results[0]?.newHeads ?? []) : [];
    // The invariant runs inside the batch, between statements: the batch's client is
    // checked out and idle in transaction. Kill the connection there and let the FATAL
    // and the socket end arrive before the batch goes on.
    let fired = false;
    let killed = 0;
    const remove = cairn.registerInvariant(SPACE, {
      name: 'kill-the-connection',
      check: async () => {
        if (fired) return true;
        fired = true;
        killed = await terminate();
        await sleep(300);
        return true;
      },
    });
    const change = base.change((d) => (d.v = 2));
    const outcome = await tx({ writes: [write('held', [change], heads)] });
    remove();
    expect(fired).toBe(true);
    expect(killed, 'the batch connection was terminated').toBeGreaterThan(0);
    expect
      .soft(
        unlistenedErrors,
        "pg 'error' events on a checked-out client with no listener (uncaught exceptions)",
      )
      .toEqual([]);
    expect(
      outcome.ok ? 'committed' : outcome.error.code,
      `answer after the connection was lost (engine logged: ${batchErrors.join(' | ')})`,
    ).toBe('StorageUnavailable');
    // The pool reconnects: the same change commits, and reads work.
    const retry = await tx({ writes: [write('held', [change], heads)] });
    expect(retry.ok, JSON.stringify(retry)).toBe(true);
    const res = await get('/docs/held');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { value: unknown }).value).toEqual({ v: 2 });
  });

  it('terminated connections: StorageUnavailable or a commit, never Internal; reads keep working', async () => {
    const { terminate, batchErrors, tx, get, cairn } = await setup();
    unlistenedErrors.length = 0;
    const writers: Writer[] = Array.from({ length: WRITERS }, (_, i) => ({
      docId: `doc-${i}`,
      replica: new Replica(0x400 + i),
      heads: [],
      pending: [],
      n: 0,
    }));
    /** Hashes the engine acknowledged as stored, per doc. */
    const acknowledged = new Map<string, Set<string>>();
    const unexpected: string[] = [];
    const tally = {
      committed: 0,
      unavailable: 0,
      landedDespiteError: 0,
      readsOk: 0,
      reads503: 0,
      killed: 0,
    };

    const writeOnce = async (w: Writer): Promise<void> => {
      w.n++;
      w.pending.push(w.replica.change((d) => (d.n = w.n)));
      const sent = [...w.pending];
      const outcome = await tx({ writes: [write(w.docId, sent, w.heads)] });
      if (outcome.ok) {
        tally.committed++;
        const r = outcome.results[0];
        if (!r || r.applied + r.duplicates !== sent.length) {
          unexpected.push(
            `${w.docId}: receipt does not cover what was sent ${JSON.stringify(outcome)}`,
          );
        }
        const set = acknowledged.get(w.docId) ?? new Set<string>();
        for (const c of sent) set.add(hashOf(c));
        acknowledged.set(w.docId, set);
        w.heads = r?.newHeads ?? w.heads;
        w.pending = [];
      } else if (outcome.error.code === 'StorageUnavailable') {
        tally.unavailable++;
      } else if (outcome.error.code === 'StaleBaseHeads' && sent.length > 1) {
        // An earlier StorageUnavailable whose COMMIT did land (its answer was lost):
        // the doc moved on; resend from the heads the server has now.
        tally.landedDespiteError++;
        w.heads = outcome.error.currentHeads ?? w.heads;
      } else {
        unexpected.push(
          `${w.docId}: ${JSON.stringify(outcome.error)} (logged: ${batchErrors.slice(-1).join('')})`,
        );
      }
    };
    const readOnce = async (w: Writer): Promise<void> => {
      const res = await get(`/docs/${w.docId}`);
      if (res.status === 200) tally.readsOk++;
      else if (res.status === 503) tally.reads503++;
      // A doc whose first write has not committed yet does not exist.
      else if (!(res.status === 404 && !acknowledged.has(w.docId))) {
        unexpected.push(`read ${w.docId}: ${res.status} ${await res.text()}`);
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      // Kill before the batch, as it starts, or while it runs.
      const when = round % 4;
      if (when === 0) tally.killed += await terminate();
      const work = Promise.all([...writers.map(writeOnce), ...writers.slice(0, 4).map(readOnce)]);
      if (when === 1) tally.killed += await terminate();
      if (when === 2) {
        await new Promise((r) => setImmediate(r));
        tally.killed += await terminate();
      }
      if (when === 3) {
        await sleep(3);
        tally.killed += await terminate();
      }
      await work;
    }
    console.log(`degraded: ${JSON.stringify(tally)}`);
    expect(
      unlistenedErrors,
      "pg 'error' events on a checked-out client with no listener (uncaught exceptions)",
    ).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(tally.killed, 'connections were really terminated').toBeGreaterThan(0);

    // The pool reconnects: every writer gets its pending changes committed.
    for (const w of writers) {
      for (let i = 0; i < RECOVERY_ATTEMPTS && (w.pending.length > 0 || w.n === 0); i++) {
        await writeOnce(w);
        if (w.pending.length > 0) await sleep(RECOVERY_PAUSE_MS);
      }
      expect(w.pending, `${w.docId} recovers`).toEqual([]);
    }
    expect(unexpected).toEqual([]);

    // Reads work; nothing acknowledged was lost or stored twice.
    for (const w of writers) {
      const res = await get(`/docs/${w.docId}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { value: unknown; seq: number };
      expect(doc.value).toEqual(w.replica.json());
      const changes = (await (await get(`/docs/${w.docId}/changes`)).json()) as {
        items: { hash: string }[];
      };
      const hashes = changes.items.map((i) => i.hash);
      expect(new Set(hashes).size, `${w.docId}: no change stored twice`).toBe(hashes.length);
      for (const h of acknowledged.get(w.docId) ?? []) {
        expect(hashes, `${w.docId}: acknowledged change ${h} is stored`).toContain(h);
      }
      expect(doc.seq).toBe(hashes.length);
    }

    // The tx chain stayed dense and linked through the failures.
    const tip = await cairn.backend.acquireSpace(SPACE, { create: false });
    const last = await tip?.store.reader.chainTip();
    tip?.release();
    let prev = Buffer.alloc(32);
    for (let epoch = 1; epoch <= (last?.epoch ?? 0); epoch++) {
      const rec = await cairn.reader.txRecord(SPACE, epoch);
      expect(Buffer.from(rec.prevTxHash).equals(prev), `epoch ${epoch} links`).toBe(true);
      prev = Buffer.from(rec.txHash);
    }
    expect(last?.epoch).toBeGreaterThanOrEqual(WRITERS);
  });
});
