import { automergeWrites } from '../helpers/record-writes.js';
import { getJson as httpGet, postJson, REQUEST_TIMEOUT_MS } from '../helpers/http.js';
import type { TxRecordView } from '../../src/protocol/views.js';
import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import * as A from '@automerge/automerge';
import * as dagCbor from '@ipld/dag-cbor';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519FromDidKey, verifyEd25519 } from '../../src/auth/server-identity.js';
import { hashOf, Replica, write, type Doc } from '../helpers/changes.js';
import {
  restartServer,
  startServer,
  stopAllServers,
  type ExitInfo,
  type ServerProcess,
} from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * SPEC §2 step 9: "A receipt is never sent for data that a process crash
 * could lose." Many concurrent writers against `cairn serve` with the default
 * `--sync full`; SIGKILL while requests are in flight; restart on the same
 * data dir; every receipted change must be there, with the epochs of the
 * space dense and the tx chain intact. A client that retries a lost answer
 * is never refused for data the server already stored.
 *
 * (SIGKILL checks that answers go out only after the commit; the page cache
 * survives it, so it cannot show a missing fsync — that would need a power cut.)
 */

const OWN_WRITERS = 40;
const SHARED_WRITERS = 8;
/** Each writer stops after this many transactions at most (the kill comes first). */
const MAX_TX_PER_WRITER = 60;
const MAX_SHARED_RETRIES = 60;
const MAX_READS_PER_READER = 5_000;
const CYCLE_TIME_CAP_MS = 20_000;

interface ReceiptJson {
  ok: true;
  epoch: number;
  committedAt: number;
  txHash: string;
  results: {
    docId: string;
    seq: number;
    newHeads: string[];
    applied: number;
    duplicates: number;
  }[];
}

/** What a client was told: these changes are stored at these seqs in this epoch. */
interface Receipted {
  docId: string;
  hashes: string[];
  seqTo: number;
  epoch: number;
  committedAt: number;
  txHash: string;
}

/** Changes a retry was told are already stored (a duplicates-only answer). */
interface KnownStored {
  docId: string;
  hashes: string[];
}

interface ChangeItem {
  seq: number;
  epoch: number;
  hash: string;
  committedAt: number;
  bytes: string;
}

type TxRecord = TxRecordView;

interface OwnWriter {
  doc: Replica;
  docId: string;
  pair: Replica;
  pairId: string;
  /** Half the own writers send a clientTxId with every transaction. */
  useClientTxId: boolean;
  /** The body whose answer was lost when the server died, with its changes per doc. */
  lost?: { body: unknown; changesByDoc: Map<string, Uint8Array[]> };
}

interface SharedWriter {
  doc: Replica;
  docId: string;
  baseHeads: string[];
  /** The change whose answer was lost. */
  lost?: Uint8Array;
}

interface WriterPlan {
  /** Makes this cycle's values differ from earlier cycles' (a change must have ops). */
  tag: string;
  own: OwnWriter[];
  shared: SharedWriter[];
}

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const rootRefOf = (heads: string[]) =>
  createHash('sha256')
    .update(JSON.stringify([...heads].sort()), 'utf8')
    .digest('hex');

afterAll(async () => {
  await stopAllServers();
});

function getJson<T>(server: ServerProcess, space: string, p: string) {
  return httpGet<T>(`${server.url}/v1/${space}${p}`);
}

function postTx(server: ServerProcess, space: string, body: unknown) {
  return postJson<unknown>(`${server.url}/v1/${space}/tx`, body);
}

async function allChanges(
  server: ServerProcess,
  space: string,
  docId: string,
): Promise<ChangeItem[]> {
  const items: ChangeItem[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = `?limit=200${cursor ? `&cursor=${cursor}` : ''}`;
    const { status, json } = await getJson<{ items: ChangeItem[]; nextCursor?: string }>(
      server,
      space,
      `/docs/${encodeURIComponent(docId)}/changes${q}`,
    );
    expect(status, JSON.stringify(json)).toBe(200);
    items.push(...json.items);
    cursor = json.nextCursor;
    if (cursor === undefined) return items;
  }
  throw new Error('changes paging does not end');
}

/** Every tx record 1..tip, read until the first 404 (the tip). */
async function allTxRecords(server: ServerProcess, space: string): Promise<TxRecord[]> {
  const records: TxRecord[] = [];
  for (let epoch = 1; epoch < 100_000; epoch++) {
    const { status, json } = await getJson<TxRecord & { error?: { code: string } }>(
      server,
      space,
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

/** A replica of a doc rebuilt from the server's log, with a fresh actor. */
async function replicaFromServer(
  server: ServerProcess,
  space: string,
  docId: string,
  actor: number,
): Promise<Replica> {
  const items = await allChanges(server, space, docId);
  const [doc] = A.applyChanges(
    A.init() as Doc,
    items.map((i) => new Uint8Array(Buffer.from(i.bytes, 'base64'))),
  );
  return new Replica(actor, doc);
}

function docIdsOf(plan: WriterPlan): string[] {
  return [
    ...new Set([
      ...plan.own.flatMap((w) => [w.docId, w.pairId]),
      ...plan.shared.map((w) => w.docId),
    ]),
  ];
}

/** Docs that exist on the server (a doc whose first transaction was lost does not). */
async function existingDocs(
  server: ServerProcess,
  space: string,
  docIds: string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const docId of docIds) {
    const { status } = await getJson(server, space, `/docs/${encodeURIComponent(docId)}/heads`);
    if (status === 200) out.push(docId);
    else expect(status).toBe(404);
  }
  return out;
}

function freshPlan(ownWriters: number, sharedWriters: number): WriterPlan {
  return {
    tag: 'c1',
    own: Array.from({ length: ownWriters }, (_, i) => ({
      doc: new Replica(0x100 + i),
      docId: `own/${i}`,
      pair: new Replica(0x200 + i),
      pairId: `pair/${i}`,
      useClientTxId: i % 2 === 0,
    })),
    shared: Array.from({ length: sharedWriters }, (_, i) => ({
      doc: new Replica(0x300 + i),
      docId: 'shared',
      baseHeads: [],
    })),
  };
}

/** Writers of the next cycle: fresh actors on replicas rebuilt from the server. */
async function planFromServer(
  server: ServerProcess,
  space: string,
  previous: WriterPlan,
  cycle: number,
): Promise<WriterPlan> {
  const existing = await existingDocs(server, space, docIdsOf(previous));
  const actor = (kind: number, i: number) => cycle * 0x1000 + kind * 0x100 + i;
  const load = (docId: string, a: number) =>
    existing.includes(docId) ? replicaFromServer(server, space, docId, a) : new Replica(a);
  const own: OwnWriter[] = [];
  for (const [i, w] of previous.own.entries()) {
    own.push({
      doc: await load(w.docId, actor(1, i)),
      docId: w.docId,
      pair: await load(w.pairId, actor(2, i)),
      pairId: w.pairId,
      useClientTxId: w.useClientTxId,
    });
  }
  const shared: SharedWriter[] = [];
  for (const [i, w] of previous.shared.entries()) {
    const heads = existing.includes(w.docId)
      ? (await getJson<{ heads: string[] }>(server, space, `/docs/${w.docId}/heads`)).json.heads
      : [];
    shared.push({ doc: await load(w.docId, actor(3, i)), docId: w.docId, baseHeads: heads });
  }
  return { tag: `c${cycle}`, own, shared };
}

interface CycleResult {
  receipts: Receipted[];
  inFlightAtStop: number;
  lostAnswers: number;
  stoppedAfterMs: number;
  reads: number;
  exit: ExitInfo;
  /** From the signal to the process exit. */
  exitAfterStopMs: number;
}

/**
 * Runs every writer (and two readers) concurrently and sends `signal` to
 * the server once `stopAfter` receipts have arrived (or the time cap
 * passes), while requests are in flight; then waits for the process to exit.
 */
async function runCycle(
  server: ServerProcess,
  space: string,
  plan: WriterPlan,
  stopAfter: number,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<CycleResult> {
  const receipts: Receipted[] = [];
  let inFlight = 0;
  let inFlightAtStop = -1;
  let lostAnswers = 0;
  let reads = 0;
  let stopped = false;
  const started = Date.now();
  let stoppedAfterMs = 0;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    inFlightAtStop = inFlight;
    stoppedAfterMs = Date.now() - started;
    server.child.kill(signal);
  };
  const timeCap = setTimeout(stop, CYCLE_TIME_CAP_MS);

  /** One POST; undefined when the answer was lost (or refused for shutdown) after the stop. */
  const post = async (body: unknown): Promise<{ status: number; json: unknown } | undefined> => {
    inFlight++;
    try {
      const reply = await postTx(server, space, body);
      if (stopped && reply.status === 503) {
        expect((reply.json as { error: { code: string } }).error.code).toBe('StorageUnavailable');
        lostAnswers++;
        return undefined;
      }
      return reply;
    } catch (err) {
      if (!stopped) throw err;
      lostAnswers++;
      return undefined;
    } finally {
      inFlight--;
    }
  };

  const record = (receipt: ReceiptJson, changesByDoc: Map<string, Uint8Array[]>) => {
    for (const w of receipt.results) {
      const changes = changesByDoc.get(w.docId) ?? [];
      expect(w.applied).toBe(changes.length);
      receipts.push({
        docId: w.docId,
        hashes: changes.map(hashOf),
        seqTo: w.seq,
        epoch: receipt.epoch,
        committedAt: receipt.committedAt,
        txHash: receipt.txHash,
      });
    }
    if (receipts.length >= stopAfter) stop();
  };

  const ownWriter = async (w: OwnWriter, index: number) => {
    for (let n = 0; n < MAX_TX_PER_WRITER && !stopped; n++) {
      const changesByDoc = new Map<string, Uint8Array[]>();
      const writes = [];
      const base = w.doc.heads;
      const own: Uint8Array[] = [];
      for (let k = 0; k <= (n + index) % 3; k++) {
        own.push(
          w.doc.change((d) => {
            d[`n${n}k${k}`] = `${plan.tag}:${index}:${n}:${k}`;
          }),
        );
      }
      changesByDoc.set(w.docId, own);
      writes.push(write(w.docId, own, base));
      if (n % 4 === 3) {
        const pairBase = w.pair.heads;
        const pc = w.pair.change((d) => {
          d[`n${n}`] = `${plan.tag}:${index}`;
        });
        changesByDoc.set(w.pairId, [pc]);
        writes.push(write(w.pairId, [pc], pairBase));
      }
      const body = {
        ...(w.useClientTxId ? { clientTxId: `${plan.tag}-${w.docId}-${n}` } : {}),
        writes,
      };
      const reply = await post(body);
      if (!reply) {
        w.lost = { body, changesByDoc };
        return;
      }
      expect(reply.status, JSON.stringify(reply.json)).toBe(200);
      record(reply.json as ReceiptJson, changesByDoc);
    }
  };

  const sharedWriter = async (w: SharedWriter, index: number) => {
    for (let n = 0; n < MAX_TX_PER_WRITER && !stopped; n++) {
      const c = w.doc.change((d) => {
        d[`s${index}`] = `${plan.tag}:${n}`;
      });
      let committed = false;
      for (let attempt = 0; attempt < MAX_SHARED_RETRIES && !stopped; attempt++) {
        const reply = await post({ writes: [write(w.docId, [c], w.baseHeads)] });
        if (!reply) {
          w.lost = c;
          return;
        }
        if (reply.status === 409) {
          const err = (reply.json as { error: { code: string; currentHeads: string[] } }).error;
          expect(err.code).toBe('StaleBaseHeads');
          w.baseHeads = err.currentHeads;
          continue;
        }
        expect(reply.status, JSON.stringify(reply.json)).toBe(200);
        const receipt = reply.json as ReceiptJson;
        w.baseHeads = receipt.results[0]?.newHeads ?? [];
        record(receipt, new Map([[w.docId, [c]]]));
        committed = true;
        break;
      }
      // Out of retries: its change is not on the server, so later ones would miss a dep.
      if (!committed) return;
    }
  };

  /** Reads while the writers write: every answer is one consistent committed state. */
  const reader = async (docId: string) => {
    let lastSeq = 0;
    for (let i = 0; i < MAX_READS_PER_READER && !stopped; i++) {
      try {
        const url = `${server.url}/v1/${space}/docs/${encodeURIComponent(docId)}`;
        if (i % 3 === 2) {
          const res = await fetch(url, {
            headers: { accept: 'application/automerge' },
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          const bytes = new Uint8Array(await res.arrayBuffer());
          if (res.status === 404) continue;
          expect(res.status).toBe(200);
          const heads = [...A.getHeads(A.load(bytes))].sort();
          expect(res.headers.get('x-cairn-heads')).toBe(heads.join(','));
          expect(res.headers.get('x-cairn-root-ref')).toBe(rootRefOf(heads));
          const seq = Number(res.headers.get('x-cairn-seq'));
          expect(seq).toBeGreaterThanOrEqual(lastSeq);
          lastSeq = seq;
        } else {
          const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          const json = (await res.json()) as { seq: number; heads: string[]; rootRef: string };
          if (res.status === 404) continue;
          expect(res.status, JSON.stringify(json)).toBe(200);
          expect(json.rootRef).toBe(rootRefOf(json.heads));
          expect(json.seq).toBeGreaterThanOrEqual(lastSeq);
          lastSeq = json.seq;
        }
        reads++;
      } catch (err) {
        if (stopped) return;
        throw err;
      }
    }
  };

  let exit: ExitInfo;
  const timing = { exitAfterStopMs: 0 };
  try {
    const outcomes = await Promise.allSettled([
      ...plan.own.map(ownWriter),
      ...plan.shared.map(sharedWriter),
      reader('shared'),
      reader(plan.own[0]?.docId ?? 'own/0'),
    ]);
    for (const o of outcomes) if (o.status === 'rejected') throw o.reason;
  } finally {
    clearTimeout(timeCap);
    stop();
    // The signal went out once; a second SIGTERM would mean "force" to many servers.
    exit = await server.exited();
    timing.exitAfterStopMs = Date.now() - started - stoppedAfterMs;
  }
  return { receipts, inFlightAtStop, lostAnswers, stoppedAfterMs, reads, exit, ...timing };
}

/**
 * What a client does after a lost answer: send the same thing again. Own
 * writers resend the very same body (same clientTxId when they use one);
 * shared writers resend their change on deliberately stale baseHeads first,
 * which must be a no-op success if it was stored, and then rebase.
 */
async function resendLost(
  server: ServerProcess,
  space: string,
  plan: WriterPlan,
): Promise<{ receipts: Receipted[]; stored: KnownStored[]; resent: number }> {
  const receipts: Receipted[] = [];
  const stored: KnownStored[] = [];
  let resent = 0;
  const take = (receipt: ReceiptJson, changesByDoc: Map<string, Uint8Array[]>) => {
    for (const w of receipt.results) {
      const hashes = (changesByDoc.get(w.docId) ?? []).map(hashOf);
      if (w.applied === 0) {
        expect(w.duplicates).toBe(hashes.length);
        stored.push({ docId: w.docId, hashes });
      } else {
        expect(w.applied).toBe(hashes.length);
        receipts.push({
          docId: w.docId,
          hashes,
          seqTo: w.seq,
          epoch: receipt.epoch,
          committedAt: receipt.committedAt,
          txHash: receipt.txHash,
        });
      }
    }
  };
  for (const w of plan.own) {
    if (!w.lost) continue;
    resent++;
    const reply = await postTx(server, space, w.lost.body);
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    take(reply.json as ReceiptJson, w.lost.changesByDoc);
  }
  for (const w of plan.shared) {
    if (!w.lost) continue;
    resent++;
    const changes = new Map([[w.docId, [w.lost]]]);
    let reply = await postTx(server, space, { writes: [write(w.docId, [w.lost], [])] });
    if (reply.status === 409) {
      const err = (reply.json as { error: { code: string; currentHeads: string[] } }).error;
      expect(err.code).toBe('StaleBaseHeads');
      reply = await postTx(server, space, {
        writes: [write(w.docId, [w.lost], err.currentHeads)],
      });
    }
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    take(reply.json as ReceiptJson, changes);
  }
  return { receipts, stored, resent };
}

/**
 * Reads everything back from a (restarted) server and checks it against the
 * receipts: every receipted change at its seq/epoch/committedAt, epochs dense
 * 1..tip, every log entry covered by exactly one tx record, the chain linked
 * and signed, each log rebuilding its branch heads.
 */
async function verifyAgainstReceipts(
  server: ServerProcess,
  space: string,
  receipts: Receipted[],
  stored: KnownStored[],
  docIds: string[],
): Promise<{ tip: TxRecord; unreceiptedChanges: number }> {
  const records = await allTxRecords(server, space);
  expect(records.length).toBeGreaterThan(0);
  const maxReceipted = Math.max(...receipts.map((r) => r.epoch));
  expect(records.length).toBeGreaterThanOrEqual(maxReceipted);

  // Dense epochs and an intact, signed chain.
  let prev = '00'.repeat(32);
  let prevCommittedAt = 0;
  const publicKey = ed25519FromDidKey(server.serverDid);
  for (const [i, rec] of records.entries()) {
    expect(rec.epoch).toBe(i + 1);
    expect(rec.prevTxHash).toBe(prev);
    expect(rec.committedAt).toBeGreaterThanOrEqual(prevCommittedAt);
    const body: Record<string, unknown> = {
      v: 1,
      space,
      epoch: rec.epoch,
      committedAt: rec.committedAt,
      writes: rec.writes,
    };
    if (rec.clientDid !== undefined) body.clientDid = rec.clientDid;
    const bodyHash = sha256(dagCbor.encode(body));
    expect(hex(bodyHash)).toBe(rec.bodyHash);
    const txHash = sha256(Buffer.from(prev, 'hex'), bodyHash);
    expect(hex(txHash)).toBe(rec.txHash);
    expect(verifyEd25519(publicKey, txHash, Buffer.from(rec.serverSig, 'base64url'))).toBe(true);
    prev = rec.txHash;
    prevCommittedAt = rec.committedAt;
  }
  const byEpoch = new Map(records.map((r) => [r.epoch, r]));

  // Receipts agree with the chain.
  for (const r of receipts) {
    const rec = byEpoch.get(r.epoch);
    expect(rec, `receipted epoch ${r.epoch} has no tx record`).toBeDefined();
    expect(rec?.txHash).toBe(r.txHash);
    expect(rec?.committedAt).toBe(r.committedAt);
    expect(
      automergeWrites(rec?.writes).some((w) => w.docId === r.docId && w.seqTo === r.seqTo),
    ).toBe(true);
  }

  // Every receipted change is in its doc's log where the receipt said.
  const logs = new Map<string, ChangeItem[]>();
  for (const docId of docIds) logs.set(docId, await allChanges(server, space, docId));
  const receiptedHashes = new Set<string>();
  for (const r of receipts) {
    const log = logs.get(r.docId) ?? [];
    const seqFrom = r.seqTo - r.hashes.length + 1;
    r.hashes.forEach((h, k) => {
      const item = log[seqFrom + k - 1];
      expect(
        item,
        `${r.docId} seq ${seqFrom + k} (receipted at epoch ${r.epoch}) is missing`,
      ).toBeDefined();
      expect(item).toMatchObject({
        seq: seqFrom + k,
        hash: h,
        epoch: r.epoch,
        committedAt: r.committedAt,
      });
      receiptedHashes.add(h);
    });
  }
  // Changes a retry was told are stored: present exactly once.
  for (const s of stored) {
    const log = logs.get(s.docId) ?? [];
    for (const h of s.hashes) {
      expect(
        log.filter((i) => i.hash === h),
        `${s.docId} lacks ${h}`,
      ).toHaveLength(1);
    }
  }

  // Every log entry is covered by exactly one tx record write, with that record's epoch.
  const covered = new Map<string, number>();
  for (const rec of records) {
    for (const w of automergeWrites(rec.writes)) {
      expect(w.branch).toBe('main');
      const log = logs.get(w.docId);
      expect(log, `tx ${rec.epoch} writes unknown doc ${w.docId}`).toBeDefined();
      expect(w.seqFrom).toBe((covered.get(w.docId) ?? 0) + 1);
      for (let s = w.seqFrom; s <= w.seqTo; s++) {
        expect(log?.[s - 1]).toMatchObject({ seq: s, epoch: rec.epoch });
      }
      covered.set(w.docId, w.seqTo);
    }
  }
  let unreceiptedChanges = 0;
  for (const [docId, log] of logs) {
    expect(covered.get(docId) ?? 0, `log of ${docId} not covered by tx records`).toBe(log.length);
    expect(new Set(log.map((i) => i.hash)).size).toBe(log.length);
    log.forEach((item, i) => expect(item.seq).toBe(i + 1));
    unreceiptedChanges += log.filter((i) => !receiptedHashes.has(i.hash)).length;
    // The log rebuilds a doc whose heads are the branch heads.
    if (log.length > 0) {
      const [doc] = A.applyChanges(
        A.init() as Doc,
        log.map((i) => new Uint8Array(Buffer.from(i.bytes, 'base64'))),
      );
      const { json } = await getJson<{ heads: string[] }>(
        server,
        space,
        `/docs/${encodeURIComponent(docId)}/heads`,
      );
      expect([...A.getHeads(doc)].sort()).toEqual(json.heads);
    }
  }
  return { tip: records[records.length - 1] as TxRecord, unreceiptedChanges };
}

/** One single-writer transaction; returns its receipt. */
async function commitOne(
  server: ServerProcess,
  space: string,
  docId: string,
  replica: Replica,
): Promise<{ receipt: ReceiptJson; hash: string }> {
  const base = replica.heads;
  const c = replica.change((d) => {
    d.after = `${Date.now()}:${Math.random()}`;
  });
  const reply = await postTx(server, space, { writes: [write(docId, [c], base)] });
  expect(reply.status, JSON.stringify(reply.json)).toBe(200);
  return { receipt: reply.json as ReceiptJson, hash: hashOf(c) };
}

const asReceipted = (docId: string, hash: string, r: ReceiptJson): Receipted => ({
  docId,
  hashes: [hash],
  seqTo: r.results[0]?.seq as number,
  epoch: r.epoch,
  committedAt: r.committedAt,
  txHash: r.txHash,
});

describe('e2e: durability of receipts with --sync full', () => {
  it('keeps every receipted change across two SIGKILL/restart cycles, with dense epochs, a linked tx chain and retries of lost answers never refused', async () => {
    const space = 'did:key:z6MkE2eDurabilityKill';
    const { dir, cleanup } = makeTempDir('cairn-e2e-durability-');
    try {
      // Default durability: no --sync flag at all.
      let server = await startServer({ dataDir: path.join(dir, 'data') });
      expect(server.options.sync).toBeUndefined();

      // A receipt kept under a clientTxId, to be asked for again after the crash.
      const idemReplica = new Replica(0x7200);
      const idemChange = idemReplica.change((d) => {
        d.idem = true;
      });
      const idemBody = { clientTxId: 'before-the-crash', writes: [write('idem', [idemChange])] };
      const idemFirst = await postTx(server, space, idemBody);
      expect(idemFirst.status).toBe(200);
      const idemReceipt = idemFirst.json as ReceiptJson;

      // Cycle 1: concurrent writers and readers, SIGKILL mid-stream.
      const plan1 = freshPlan(OWN_WRITERS, SHARED_WRITERS);
      const cycle1 = await runCycle(server, space, plan1, 400, 'SIGKILL');
      console.log(
        `cycle 1: ${cycle1.receipts.length} receipts, ${cycle1.reads} consistent reads, SIGKILL after ${cycle1.stoppedAfterMs} ms with ${cycle1.inFlightAtStop} requests in flight, ${cycle1.lostAnswers} answers lost`,
      );
      expect(cycle1.receipts.length).toBeGreaterThanOrEqual(400);
      // Requests were in flight when the signal went out (whether their answers made it out
      // before the process died is a race; both outcomes are checked below).
      expect(cycle1.inFlightAtStop).toBeGreaterThan(0);
      expect(cycle1.exit.signal).toBe('SIGKILL');
      expect(server.alive).toBe(false);

      server = await restartServer(server);
      let docs = [...(await existingDocs(server, space, docIdsOf(plan1))), 'idem'];
      const idemReceipted = asReceipted('idem', hashOf(idemChange), idemReceipt);
      const v1 = await verifyAgainstReceipts(
        server,
        space,
        [idemReceipted, ...cycle1.receipts],
        [],
        docs,
      );
      console.log(
        `after restart 1: tip epoch ${v1.tip.epoch}, ${v1.unreceiptedChanges} committed changes whose answer was lost`,
      );

      // Writes continue from the right epoch, chained to the tip (on a doc of its own, so the
      // retries below still find their base heads current).
      const first = await commitOne(server, space, 'probe', new Replica(0x7000));
      expect(first.receipt.epoch).toBe(v1.tip.epoch + 1);
      const firstRecord = (await getJson<TxRecord>(server, space, `/tx/${first.receipt.epoch}`))
        .json;
      expect(firstRecord.prevTxHash).toBe(v1.tip.txHash);
      // The clientTxId committed before the crash still answers its stored receipt.
      const idemAgain = await postTx(server, space, idemBody);
      expect(idemAgain.status).toBe(200);
      expect(idemAgain.json).toEqual(idemReceipt);
      expect((await getJson(server, space, `/tx/${first.receipt.epoch + 1}`)).status).toBe(404);

      const allReceipts: Receipted[] = [
        idemReceipted,
        ...cycle1.receipts,
        asReceipted('probe', first.hash, first.receipt),
      ];

      // Retries of the lost answers: never refused for data already stored.
      const retry1 = await resendLost(server, space, plan1);
      allReceipts.push(...retry1.receipts);
      const stored = [...retry1.stored];
      console.log(
        `retried ${retry1.resent} lost answers: ${retry1.stored.length} writes were already stored, ${retry1.receipts.length} committed now`,
      );

      // Cycle 2: the same on the restarted server, then SIGKILL again.
      const plan2 = await planFromServer(server, space, plan1, 2);
      const cycle2 = await runCycle(server, space, plan2, 300, 'SIGKILL');
      console.log(
        `cycle 2: ${cycle2.receipts.length} receipts, SIGKILL after ${cycle2.stoppedAfterMs} ms with ${cycle2.inFlightAtStop} in flight`,
      );
      expect(cycle2.receipts.length).toBeGreaterThanOrEqual(300);
      expect(cycle2.inFlightAtStop).toBeGreaterThan(0);
      expect(Math.min(...cycle2.receipts.map((r) => r.epoch))).toBeGreaterThan(first.receipt.epoch);
      allReceipts.push(...cycle2.receipts);

      server = await restartServer(server);
      const retry2 = await resendLost(server, space, plan2);
      allReceipts.push(...retry2.receipts);
      stored.push(...retry2.stored);
      docs = [...(await existingDocs(server, space, docIdsOf(plan2))), 'probe', 'idem'];
      const v2 = await verifyAgainstReceipts(server, space, allReceipts, stored, docs);
      expect(v2.tip.epoch).toBeGreaterThanOrEqual(Math.max(...allReceipts.map((r) => r.epoch)));

      // And it keeps going after the second crash.
      const last = await commitOne(
        server,
        space,
        'shared',
        await replicaFromServer(server, space, 'shared', 0x7001),
      );
      expect(last.receipt.epoch).toBe(v2.tip.epoch + 1);
      expect(
        (await getJson<TxRecord>(server, space, `/tx/${last.receipt.epoch}`)).json.prevTxHash,
      ).toBe(v2.tip.txHash);
      const exit = await server.kill('SIGTERM');
      expect(exit).toMatchObject({ code: 0, timedOut: false });
    } finally {
      await stopAllServers();
      cleanup();
    }
  }, 120_000);

  // Known bug: src/app/serve.ts close() only calls server.close(), which stops accepting new
  // connections and closes the idle ones, but lets a keep-alive connection that was busy at
  // that moment go on sending requests (reads and commits alike), so a client that keeps
  // using it keeps the process alive after SIGTERM without bound.
  it('exits within 5 s of SIGTERM even while a keep-alive client keeps sending requests', async () => {
    const space = 'did:key:z6MkE2eDurabilityKeepAlive';
    const { dir, cleanup } = makeTempDir('cairn-e2e-keepalive-');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const server = await startServer({ dataDir: path.join(dir, 'data') });
      const replica = new Replica(0x7100);
      await commitOne(server, space, 'ka', replica);
      const request = (method: string, p: string, body?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: server.port, method, path: p, agent, timeout: 2_000 },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
          if (body !== undefined) req.end(body);
          else req.end();
        });

      // A request is mid-upload when SIGTERM arrives: its connection is busy, not idle.
      const base = replica.heads;
      const c = replica.change((d) => {
        d.inFlight = true;
      });
      const text = JSON.stringify({ writes: [write('ka', [c], base)] });
      const inFlight = new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: server.port,
            method: 'POST',
            path: `/v1/${space}/tx`,
            agent,
            headers: { 'content-type': 'application/json', 'content-length': text.length },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.write(text.slice(0, 10));
        setTimeout(() => {
          server.child.kill('SIGTERM');
          setTimeout(() => req.end(text.slice(10)), 300);
        }, 100);
      });
      const signalledAt = Date.now() + 100;
      let exitedAt = 0;
      const exited = server.exited(20_000).then((e) => {
        exitedAt = Date.now();
        return e;
      });
      const firstStatus = await inFlight.catch(() => 0);
      let served = 0;
      // Then one request every 100 ms, for at most 6 s, on the same kept-alive connection.
      while (exitedAt === 0 && Date.now() - signalledAt < 6_000) {
        try {
          const res = await request('GET', `/v1/${space}/docs/ka/heads`);
          if (res.status === 200) served++;
        } catch {
          // refused or reset: the server is going away, as it should
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      agent.destroy(); // lets a server that waits for the connection go now
      const exit = await exited;
      console.log(
        `keep-alive: in-flight tx answered ${firstStatus}; ${served} requests served after SIGTERM; exited ${exitedAt - signalledAt} ms after it`,
      );
      expect(exit).toMatchObject({ code: 0, timedOut: false });
      expect(exitedAt - signalledAt).toBeLessThan(5_000);
    } finally {
      agent.destroy();
      await stopAllServers();
      cleanup();
    }
  }, 60_000);

  it('on SIGTERM under load answers or refuses what is in flight, exits 0, and keeps every receipt', async () => {
    const space = 'did:key:z6MkE2eDurabilityTerm';
    const { dir, cleanup } = makeTempDir('cairn-e2e-sigterm-');
    try {
      let server = await startServer({ dataDir: path.join(dir, 'data') });
      const plan = freshPlan(16, 4);
      const cycle = await runCycle(server, space, plan, 150, 'SIGTERM');
      console.log(
        `SIGTERM: ${cycle.receipts.length} receipts, ${cycle.inFlightAtStop} in flight at the signal, ${cycle.lostAnswers} lost or refused; exit ${JSON.stringify(cycle.exit)} ${cycle.exitAfterStopMs} ms after the signal`,
      );
      expect(cycle.exit).toMatchObject({ code: 0, signal: null, timedOut: false });
      expect(cycle.receipts.length).toBeGreaterThanOrEqual(150);
      expect(server.output()).toMatch(/"msg":"shutting down"/);
      expect(server.output()).not.toMatch(/"level":(50|60)/);

      server = await restartServer(server);
      const retry = await resendLost(server, space, plan);
      const docs = await existingDocs(server, space, docIdsOf(plan));
      await verifyAgainstReceipts(
        server,
        space,
        [...cycle.receipts, ...retry.receipts],
        retry.stored,
        docs,
      );
      await server.stop();
    } finally {
      await stopAllServers();
      cleanup();
    }
  }, 60_000);
});
