import { automergeWrites } from '../helpers/record-writes.js';
import { getJson as httpGet, postJson } from '../helpers/http.js';
import { verifySpaceTxChain, verifyTxRecords } from '../../src/pipeline/verify-tx-chain.js';
import { txRecordFromView, type TxRecordBytes } from '../../src/protocol/tx-record.js';
import type { TxRecordView } from '../../src/protocol/views.js';
import * as A from '@automerge/automerge';
import { afterAll, describe, expect, it } from 'vitest';
import { createCairn, type Cairn } from '../../src/app/create-cairn.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { TxReceipt } from '../../src/protocol/receipt.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { hashOf, Replica, write, type Doc } from '../helpers/changes.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import { startServer, stopAllServers, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Two cairn processes on one PostgreSQL database hammer one doc together.
 * Writes to a space are serialized across processes by the space's row lock;
 * each transaction must get a commit or a typed conflict, epochs must stay
 * dense with one linked, signed tx record each, and no change may be lost or
 * stored twice. Clients are optimistic: they send a change with the heads they
 * last saw, and on `409 StaleBaseHeads` fetch what they miss, rebase and retry.
 */

const SPACE = 'did:key:z6MkTwoProcessesOneDatabase';
const SHARED_DOC = 'shared';
const CLIENTS_PER_PROCESS = 8;
/** Transactions (a change and its retries) the clients start in all. */
const MAX_TRANSACTIONS = 300;
/** POSTs across all clients, retries included: a second bound on the run. */
const MAX_POSTS = 1200;
const DEADLINE_MS = 25_000;
/** Attempts per shared-doc change before the client gives up on it (and resends it later). */
const MAX_ATTEMPTS = 40;

interface ErrorBody {
  ok: false;
  error: { code: string; message: string; currentHeads?: string[] };
}
type TxAnswer = TxReceipt | ErrorBody;

interface ChangeItem {
  seq: number;
  epoch: number;
  hash: string;
  bytes: string;
}

type TxRecord = TxRecordView;

/** A change the server receipted: stored in `docId` by the transaction of `epoch`. */
interface Committed {
  docId: string;
  bytes: Uint8Array;
  epoch: number;
}

interface Client {
  id: number;
  rng: SeededRandom;
  turn: number;
  shared: Replica;
  /** Shared-doc changes made but not committed yet, in order. */
  pending: Uint8Array[];
  /** Heads of the shared doc as the client last heard them from the server. */
  sharedHeads: string[];
  /** Highest seq of the shared doc's log applied to `shared` from the server. */
  knownSeq: number;
  own: Replica;
  ownId: string;
  ownHeads: string[];
  /** Own-doc changes made but not committed yet (only after a failure); resent in order. */
  ownPending: Uint8Array[];
  n: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

function getJson<T>(server: ServerProcess, p: string) {
  return httpGet<T>(`${server.url}/v1/${SPACE}${p}`);
}

function postTx(server: ServerProcess, body: unknown) {
  return postJson<TxAnswer>(`${server.url}/v1/${SPACE}/tx`, body);
}

async function changesFrom(
  server: ServerProcess,
  docId: string,
  fromSeq: number,
): Promise<ChangeItem[]> {
  const items: ChangeItem[] = [];
  let q = `fromSeq=${fromSeq}`;
  for (let page = 0; page < 1000; page++) {
    const { status, json } = await getJson<{ items: ChangeItem[]; nextCursor?: string }>(
      server,
      `/docs/${encodeURIComponent(docId)}/changes?limit=500&${q}`,
    );
    if (status !== 200) throw new Error(`changes of ${docId}: ${status} ${JSON.stringify(json)}`);
    items.push(...json.items);
    if (json.nextCursor === undefined) return items;
    q = `cursor=${json.nextCursor}`;
  }
  throw new Error('changes paging does not end');
}

async function allTxRecords(server: ServerProcess): Promise<TxRecord[]> {
  const records: TxRecord[] = [];
  for (let epoch = 1; epoch < 10_000; epoch++) {
    const { status, json } = await getJson<TxRecord & { error?: { code: string } }>(
      server,
      `/tx/${epoch}`,
    );
    if (status === 404) {
      expect(json.error?.code).toBe('VersionNotFound');
      return records;
    }
    expect(status, JSON.stringify(json)).toBe(200);
    records.push(json);
  }
  throw new Error('tx chain does not end');
}

/** The chain rules of SPEC §3 over served records 1..N (the one verifier); a readable list of breaks. */
async function chainBreaks(
  records: TxRecord[],
  space: string,
  serverDid: string,
): Promise<string[]> {
  const bytes = records.map((rec) => txRecordFromView(rec));
  if (bytes.some((b) => b === undefined)) return ['a record does not decode'];
  const report = await verifyTxRecords(bytes as TxRecordBytes[], { spaceId: space, serverDid });
  return report.problems.map((p) => `epoch ${p.epoch}: ${p.problem}`);
}

describe('Two cairn processes on one database hammer one doc together', () => {
  it('every transaction commits or gets a typed conflict; nothing lost or doubled; one chain', async () => {
    const seed = testSeed();
    const db = await freshDatabase();
    const servers: ServerProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const tmp = makeTempDir();
      cleanups.push(() => tmp.cleanup());
      servers.push(await startServer({ dataDir: tmp.dir, databaseUrl: db.url }));
    }
    const [s0, s1] = servers as [ServerProcess, ServerProcess];
    expect(s0.serverDid).toBe(s1.serverDid);

    const unexpected: string[] = [];
    const committed = new Map<string, Committed>();
    const receipts: TxReceipt[] = [];
    const counts = {
      started: 0,
      posts: 0,
      commits: 0,
      stale: 0,
      readConflicts: 0,
      merges: 0,
      dupPairs: 0,
    };
    const started = Date.now();
    const budgetLeft = () =>
      counts.started < MAX_TRANSACTIONS &&
      counts.posts < MAX_POSTS &&
      Date.now() - started < DEADLINE_MS;

    /** One POST: records the answer; anything but 200 or a typed 409 is a failure. */
    const post = async (server: ServerProcess, body: unknown, what: string) => {
      counts.posts++;
      const reply = await postTx(server, body);
      const code = reply.json.ok ? undefined : reply.json.error.code;
      if (reply.status === 200 && reply.json.ok) {
        // Counted by recordCommitted (a duplicated clientTxId answers one commit twice).
      } else if (reply.status === 409 && code === 'StaleBaseHeads') counts.stale++;
      else if (reply.status === 409 && code === 'ReadConflict') counts.readConflicts++;
      else
        unexpected.push(
          `${what} on :${server.port}: ${reply.status} ${JSON.stringify(reply.json)}`,
        );
      return reply;
    };
    const recordCommitted = (receipt: TxReceipt, docId: string, changes: Uint8Array[]) => {
      counts.commits++;
      receipts.push(receipt);
      const result = receipt.results.find((r) => r.docId === docId);
      if (result?.applied !== changes.length) {
        unexpected.push(
          `receipt of ${docId} does not apply ${changes.length}: ${JSON.stringify(receipt)}`,
        );
      }
      for (const bytes of changes) {
        const hash = hashOf(bytes);
        if (committed.has(hash)) unexpected.push(`change ${hash} receipted twice`);
        committed.set(hash, { docId, bytes, epoch: receipt.epoch });
      }
    };

    const clients: Client[] = Array.from({ length: 2 * CLIENTS_PER_PROCESS }, (_, id) => ({
      id,
      rng: new SeededRandom(seed + id),
      turn: 0,
      shared: new Replica(0x100 + id),
      pending: [],
      sharedHeads: [],
      knownSeq: 0,
      own: new Replica(0x200 + id),
      ownId: `own/${id}`,
      ownHeads: [],
      ownPending: [],
      n: 0,
    }));
    const nextServer = (c: Client) => servers[(c.id + c.turn++) % 2] as ServerProcess;

    /** Fetches the shared doc's log after knownSeq and applies it to the replica in one batch. */
    const catchUp = async (c: Client) => {
      const items = await changesFrom(nextServer(c), SHARED_DOC, c.knownSeq + 1);
      if (items.length === 0) return;
      c.shared.receive(items.map((i) => new Uint8Array(Buffer.from(i.bytes, 'base64'))));
      c.knownSeq = (items[items.length - 1] as ChangeItem).seq;
    };

    const sharedChange = async (c: Client) => {
      c.n++;
      c.pending.push(
        c.shared.change((d) => {
          d[`c${c.id}`] = c.n;
          d.last = `${c.id}:${c.n}`;
        }),
      );
      for (let attempt = 0; attempt < MAX_ATTEMPTS && counts.posts < MAX_POSTS; attempt++) {
        const merge = c.rng.chance(0.15);
        // A merge only needs base heads that exist: the deps of the first unsent change.
        const baseHeads = merge
          ? (A.decodeChange(c.pending[0] as Uint8Array).deps as string[])
          : c.sharedHeads;
        const body = {
          writes: [write(SHARED_DOC, c.pending, baseHeads, merge ? { merge: true } : {})],
        };
        const reply = await post(nextServer(c), body, `shared change of client ${c.id}`);
        if (reply.json.ok) {
          if (merge) counts.merges++;
          recordCommitted(reply.json, SHARED_DOC, c.pending);
          c.pending = [];
          c.sharedHeads = reply.json.results[0]?.newHeads ?? [];
          return;
        }
        if (reply.status !== 409) return;
        // Rebase: take what we miss, then retry against the heads the server reported.
        await catchUp(c);
        c.sharedHeads = reply.json.error.currentHeads ?? c.sharedHeads;
      }
    };

    const ownChange = async (c: Client) => {
      c.n++;
      c.ownPending.push(c.own.change((d) => (d.n = c.n)));
      // Sometimes also assert the shared doc's heads: a read set that may conflict.
      const withRead = c.rng.chance(0.2);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const body = {
          ...(withRead ? { reads: [{ docId: SHARED_DOC, heads: c.sharedHeads }] } : {}),
          ...(c.rng.chance(0.3) ? { clientTxId: `own-${c.id}-${c.n}-${attempt}` } : {}),
          writes: [write(c.ownId, c.ownPending, c.ownHeads)],
        };
        const reply = await post(nextServer(c), body, `own change of client ${c.id}`);
        if (reply.json.ok) {
          recordCommitted(reply.json, c.ownId, c.ownPending);
          c.ownPending = [];
          c.ownHeads = reply.json.results[0]?.newHeads ?? [];
          return;
        }
        if (reply.status !== 409) return;
        // Only the read can conflict (nobody else writes this doc).
        if (reply.json.error.code !== 'ReadConflict') {
          unexpected.push(`own doc ${c.ownId}: ${JSON.stringify(reply.json)}`);
          return;
        }
        c.sharedHeads = reply.json.error.currentHeads ?? c.sharedHeads;
      }
    };

    /** The same body with the same clientTxId to both processes at once. */
    const duplicateSend = async (c: Client) => {
      c.n++;
      c.ownPending.push(c.own.change((d) => (d.n = c.n)));
      const body = {
        clientTxId: `dup-${c.id}-${c.n}`,
        writes: [write(c.ownId, c.ownPending, c.ownHeads)],
      };
      const [a, b] = await Promise.all([
        post(s0, body, `dup ${body.clientTxId}`),
        post(s1, body, `dup ${body.clientTxId}`),
      ]);
      counts.dupPairs++;
      if (JSON.stringify(a.json) !== JSON.stringify(b.json)) {
        unexpected.push(
          `${body.clientTxId}: two different answers ${JSON.stringify(a.json)} / ${JSON.stringify(b.json)}`,
        );
      }
      // Whichever committed (a differing second commit would show up as a doubled change).
      const receipt = a.json.ok ? a.json : b.json.ok ? b.json : undefined;
      if (!receipt) return;
      recordCommitted(receipt, c.ownId, c.ownPending);
      c.ownPending = [];
      c.ownHeads = receipt.results[0]?.newHeads ?? [];
    };

    const runClient = async (c: Client) => {
      while (budgetLeft()) {
        counts.started++;
        const r = c.rng.next();
        if (r < 0.6) await sharedChange(c);
        else if (r < 0.88) await ownChange(c);
        else await duplicateSend(c);
      }
      // Changes still unsent stay local: they were never receipted.
    };
    await Promise.all(clients.map(runClient));
    const elapsed = Date.now() - started;
    console.log(
      `two processes, seed ${seed}: ${JSON.stringify(counts)} in ${elapsed} ms; ` +
        `${committed.size} changes committed`,
    );

    // The servers' own account of any failed batch (the cause behind a 500).
    const batchErrors = servers.flatMap((s) =>
      s
        .output()
        .split('\n')
        .filter((l) => l.includes('write batch failed'))
        .slice(0, 3),
    );
    expect(unexpected, `seed ${seed}; server logs: ${batchErrors.join('\n')}`).toEqual([]);
    expect(counts.commits).toBeGreaterThan(50);
    expect(counts.stale, 'the processes really contended on the shared doc').toBeGreaterThan(0);
    expect(s0.alive && s1.alive).toBe(true);

    // Every receipted change is in its doc's log exactly once, and nothing else is.
    const docIds = [SHARED_DOC, ...clients.map((c) => c.ownId)];
    for (const docId of docIds) {
      const mine = [...committed.entries()].filter(([, v]) => v.docId === docId);
      if (mine.length === 0) continue;
      for (const server of servers) {
        const log = await changesFrom(server, docId, 1);
        const hashes = log.map((i) => i.hash);
        expect(new Set(hashes).size, `${docId}: a change is stored twice`).toBe(hashes.length);
        expect(log.map((i) => i.seq)).toEqual(log.map((_, i) => i + 1));
        expect([...hashes].sort(), `${docId}: log = receipted changes`).toEqual(
          mine.map(([h]) => h).sort(),
        );
        for (const item of log) {
          expect(item.epoch, `${docId} seq ${item.seq}`).toBe(committed.get(item.hash)?.epoch);
        }
        const { json: head } = await getJson<{ seq: number; heads: string[] }>(
          server,
          `/docs/${encodeURIComponent(docId)}/heads`,
        );
        expect(head.seq, `${docId}: seq = number of committed changes`).toBe(mine.length);
        // The doc equals a local Automerge doc holding every committed change.
        const [local] = A.applyChanges(
          A.init() as Doc,
          mine.map(([, v]) => v.bytes),
        );
        expect(head.heads).toEqual([...A.getHeads(local)].sort());
        const { json: doc } = await getJson<{ value: unknown; seq: number }>(
          server,
          `/docs/${encodeURIComponent(docId)}`,
        );
        expect(doc.value, `${docId} on :${server.port}`).toEqual(
          JSON.parse(JSON.stringify(A.toJS(local))),
        );
      }
    }

    // Dense epochs, one linked and signed record each, agreeing with the receipts.
    const epochs = new Set(receipts.map((r) => r.epoch));
    expect(epochs.size, 'every commit got its own epoch').toBe(receipts.length);
    const records = await allTxRecords(s1);
    expect(records.length).toBe(receipts.length);
    expect(await chainBreaks(records, SPACE, s0.serverDid)).toEqual([]);
    expect(await allTxRecords(s0)).toEqual(records);
    for (const r of receipts) {
      const rec = records[r.epoch - 1];
      expect(rec?.txHash, `receipt of epoch ${r.epoch}`).toBe(r.txHash);
      expect(rec?.committedAt).toBe(r.committedAt);
      for (const w of r.results) {
        expect(
          automergeWrites(rec?.writes).some((x) => x.docId === w.docId && x.seqTo === w.seq),
          `epoch ${r.epoch} records the write of ${w.docId}`,
        ).toBe(true);
      }
    }
  });

  it('group commit still works with two engines on one database', async () => {
    const db = await freshDatabase();
    const logged: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      error: (obj, msg) => {
        const err = (obj as { err?: { code?: unknown; message?: unknown; detail?: unknown } }).err;
        logged.push(`${msg}: ${String(err?.code)} ${String(err?.message)} ${String(err?.detail)}`);
      },
    };
    const open = () =>
      createCairn({
        databaseUrl: db.url,
        serverKey: Buffer.alloc(32, 7).toString('base64url'),
        logger,
        auth: 'off',
      });
    const engines: Cairn[] = [await open(), await open()];
    cleanups.push(async () => {
      for (const e of engines) await e.close();
    });
    const space = 'did:key:z6MkGroupCommitTwoEngines';
    const PER_ENGINE = 30;
    // Round 0 creates the space (both engines race to insert its row); in round 1 it
    // exists, so each engine's batch waits on the other's row lock.
    const ROUNDS = 2;
    const failed: unknown[] = [];
    const epochs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const outcomes = await Promise.all(
        engines.flatMap((engine, e) =>
          Array.from({ length: PER_ENGINE }, (_, i) => {
            const actor = 0x300 + round * 0x100 + e * PER_ENGINE + i;
            const change = new Replica(actor).change((d) => (d.i = i));
            const body = { writes: [write(`r${round}/e${e}/d${i}`, [change])] };
            return engine.pipeline.commit(space, parseTxRequest(body, engine.limits));
          }),
        ),
      );
      failed.push(...outcomes.filter((o) => !o.ok).map((o) => ({ round, ...o })));
      epochs.push(...outcomes.map((o) => (o.ok ? o.epoch : 0)));
    }
    expect(failed, `engines logged: ${[...new Set(logged)].join(' | ')}`).toEqual([]);
    const total = ROUNDS * 2 * PER_ENGINE;
    expect(epochs.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const stats = engines.map((e) => ({ ...e.pipeline.stats }));
    for (const s of stats) expect(s.transactions).toBe(ROUNDS * PER_ENGINE);
    expect(
      stats.some((s) => s.batches < s.transactions),
      `several transactions per SQL batch in at least one engine: ${JSON.stringify(stats)}`,
    ).toBe(true);
    // One chain across both engines.
    const report = await (engines[0] as Cairn).reader.withSpace(space, (ops) =>
      verifySpaceTxChain(ops, { spaceId: space }),
    );
    expect(report).toEqual({ checked: total, problems: [] });
  });
});
