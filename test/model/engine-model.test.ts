import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { docToJson } from '../../src/crdt/automerge/to-json.js';
import type { TxOutcome } from '../../src/protocol/receipt.js';
import { actorId, b64, Replica } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import {
  decodeOrNull,
  rootRefOf,
  sortedHeads,
  SpaceModel,
  type ChangeMeta,
  type ModelTx,
  type ModelWrite,
  type Prediction,
} from './oracle.js';

/**
 * Model-based test of the commit pipeline: seeded random transactions go to
 * the engine and to the oracle of ./oracle.ts; after every transaction the
 * outcome, the epoch and every touched doc (heads, seq, epoch, rootRef, JSON)
 * must agree. `CAIRN_SEED=<n>` replays one seed; `CAIRN_STEPS` changes the
 * number of steps per seed.
 */

const STEPS = Number(process.env.CAIRN_STEPS ?? 150);
/** Each seed stops early (with a warning) past this much time. */
const SEED_BUDGET_MS = 25_000;
const ACTORS = 4;
const base = testSeed();
const SEEDS = process.env.CAIRN_SEED ? [base] : [base, base + 1, base + 2];

/** A client's replica of one doc: which changes it holds and what it believes the server heads are. */
interface Sim {
  actor: number;
  rep: Replica;
  has: Set<string>;
  belief: string[];
}

/** A doc's state in the model right after one commit. */
interface Snapshot {
  docId: string;
  epoch: number;
  seq: number;
  heads: string[];
  json: unknown;
}

/** Every change any replica ever made, with its creation index (a causal order). */
interface Made {
  meta: ChangeMeta;
  index: number;
}

type Mode =
  | 'normal'
  | 'noNew'
  | 'partialReplay'
  | 'latestOnly'
  | 'reversed'
  | 'garbage'
  | 'seqSkip'
  | 'inWriteDup';

const MODES: readonly [Mode, number][] = [
  ['normal', 50],
  ['noNew', 7],
  ['partialReplay', 9],
  ['latestOnly', 8],
  ['reversed', 5],
  ['garbage', 8],
  ['seqSkip', 6],
  ['inWriteDup', 4],
];

function weighted<T>(r: SeededRandom, items: readonly [T, number][]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = r.next() * total;
  for (const [item, w] of items) {
    x -= w;
    if (x < 0) return item;
  }
  return (items[items.length - 1] as [T, number])[0];
}

function subset<T>(r: SeededRandom, items: readonly T[], p: number): T[] {
  return items.filter(() => r.chance(p));
}

class ModelRun {
  readonly r: SeededRandom;
  readonly model = new SpaceModel();
  readonly docIds: string[];
  readonly made = new Map<string, Made>();
  /** sims[actor][docId] */
  readonly sims: Map<string, Sim>[] = [];
  /** Every write sent so far (for whole replays). */
  readonly sentWrites: { docId: string; changes: Uint8Array[] }[] = [];
  readonly outcomes = new Map<string, number>();
  readonly crafted = new Set<Uint8Array>();
  /** What the run exercised (printed, so a reader sees the coverage of each seed). */
  readonly seen = { maxHeads: 0, reopens: 0, forks: 0, pipelined: 0, merges: 0, multiWrite: 0 };
  lastCommittedAt = 0;
  lastTxHash: string | undefined;
  tick = 0;
  txCount = 0;
  /** What the current step did, for failure messages. */
  note = '';

  constructor(
    readonly engine: TestEngine,
    readonly seed: number,
  ) {
    this.r = new SeededRandom(seed);
    this.docIds = ['doc-a', 'doc-b', 'doc-c'].slice(0, 2 + this.r.int(2));
    for (let a = 0; a < ACTORS; a++) {
      const m = new Map<string, Sim>();
      for (const d of this.docIds) m.set(d, this.freshSim(a + 1));
      this.sims.push(m);
    }
  }

  freshSim(actor: number, from?: A.Doc<unknown>, has: Iterable<string> = []): Sim {
    return {
      actor,
      rep: new Replica(actor, from as A.Doc<Record<string, unknown>> | undefined),
      has: new Set(has),
      belief: [],
    };
  }

  sim(actor: number, docId: string): Sim {
    return (this.sims[actor - 1] as Map<string, Sim>).get(docId) as Sim;
  }

  // ---- replicas ----------------------------------------------------------

  /** One new change on the replica: a random edit plus a unique tick (so it always has ops). */
  makeChange(sim: Sim): Uint8Array {
    const r = this.r;
    const tick = ++this.tick;
    const bytes = sim.rep.change((d) => {
      const key = r.pick(['a', 'b', 'c']);
      switch (r.int(6)) {
        case 0:
          d[key] = r.int(100);
          break;
        case 1:
          d[key] = `s${tick}`;
          break;
        case 2: {
          const list = d.list;
          if (Array.isArray(list)) {
            if (list.length > 0 && r.chance(0.3)) list.splice(r.int(list.length), 1);
            else list.splice(r.int(list.length + 1), 0, tick);
          } else d.list = [tick];
          break;
        }
        case 3: {
          const text = d.text;
          if (typeof text === 'string') {
            const pos = r.int(text.length + 1);
            const del = Math.min(r.int(3), text.length - pos);
            A.splice(d, ['text'], pos, del, r.pick(['x', 'yz', 'é', '🙂', '']));
          } else d.text = 'hello';
          break;
        }
        case 4: {
          const m = d.m;
          if (m !== null && typeof m === 'object' && !Array.isArray(m)) {
            (m as Record<string, unknown>)[key] = tick;
          } else d.m = { [key]: tick };
          break;
        }
        default:
          if (key in d) delete d[key];
          else d[key] = true;
      }
      d.tick = tick;
    });
    const meta = decodeOrNull(bytes);
    if (!meta) throw new Error('a fresh change does not decode');
    this.made.set(meta.hash, { meta, index: this.made.size });
    sim.has.add(meta.hash);
    return bytes;
  }

  /** Gives the replica, in one batch, the `hashes` it lacks (in causal order). */
  receive(sim: Sim, hashes: Iterable<string>): void {
    const missing = [...hashes]
      .filter((h) => !sim.has.has(h))
      .map((h) => this.made.get(h) as Made)
      .sort((x, y) => x.index - y.index);
    if (missing.length === 0) return;
    sim.rep.receive(missing.map((m) => m.meta.bytes));
    for (const m of missing) sim.has.add(m.meta.hash);
  }

  pullServer(sim: Sim, docId: string): void {
    const m = this.model.doc(docId);
    this.receive(sim, m.log);
    sim.belief = m.heads;
  }

  /** What the replica holds that the server lacks, in causal order. */
  pending(sim: Sim, docId: string): Uint8Array[] {
    const known = this.model.doc(docId).known;
    return [...sim.has]
      .filter((h) => !known.has(h))
      .map((h) => this.made.get(h) as Made)
      .sort((x, y) => x.index - y.index)
      .map((m) => m.meta.bytes);
  }

  garbage(sim: Sim): Uint8Array {
    const r = this.r;
    const some = [...sim.has];
    const real = some.length > 0 ? (this.made.get(r.pick(some)) as Made).meta.bytes : undefined;
    const kind = r.int(real ? 4 : 2);
    let bytes: Uint8Array;
    if (kind === 0) {
      bytes = new Uint8Array(1 + r.int(64)).map(() => r.int(256));
    } else if (kind === 1) {
      bytes = A.save(sim.rep.doc); // a document chunk, not a change
    } else if (kind === 2) {
      bytes = (real as Uint8Array).slice(
        0,
        Math.max(1, (real as Uint8Array).length - 1 - r.int(8)),
      );
    } else {
      bytes = Buffer.concat([real as Uint8Array, real as Uint8Array]); // trailing bytes
    }
    if (decodeOrNull(bytes)) throw new Error('generated garbage decodes as a change');
    return bytes;
  }

  /** A real change re-encoded with a seq that skips (never the one the server expects). */
  seqSkipped(sim: Sim, docId: string): Uint8Array {
    const bytes = this.makeChange(sim);
    const d = A.decodeChange(bytes);
    const expected = (this.model.doc(docId).actorSeq.get(d.actor) ?? 0) + 1;
    const seq = Math.max(d.seq, expected) + 1 + this.r.int(2);
    const crafted = A.encodeChange({ ...d, seq });
    const meta = decodeOrNull(crafted);
    if (!meta || meta.seq !== seq) throw new Error('could not craft a seq-skipped change');
    this.crafted.add(crafted);
    return crafted;
  }

  // ---- transactions ------------------------------------------------------

  pickBaseHeads(sim: Sim, docId: string): string[] {
    const m = this.model.doc(docId);
    const x = this.r.next();
    if (x < 0.55) return m.heads;
    if (x < 0.85) return sim.belief;
    return this.r.pick(m.headsHistory);
  }

  /** One write of `docId` by `actor`, in a random mode. */
  genWrite(actor: number, docId: string): { write: ModelWrite; mode: Mode } {
    const r = this.r;
    const sim = this.sim(actor, docId);
    const m = this.model.doc(docId);
    const sync = r.next();
    if (sync < 0.35) this.pullServer(sim, docId);
    else if (sync < 0.55) {
      const peer = r.pick(this.sims.filter((_, i) => i !== actor - 1)).get(docId) as Sim;
      this.receive(sim, peer.has);
    }
    const mode = weighted(r, MODES);
    if (mode !== 'noNew') {
      const n = mode === 'latestOnly' || mode === 'reversed' ? 2 + r.int(2) : 1 + r.int(3);
      for (let i = 0; i < n; i++) this.makeChange(sim);
    }
    let changes = this.pending(sim, docId);
    switch (mode) {
      case 'partialReplay':
        changes = [
          ...subset(r, m.log, 0.3).map((h) => (m.known.get(h) as ChangeMeta).bytes),
          ...changes,
        ];
        break;
      case 'latestOnly':
        changes = changes.slice(-1);
        break;
      case 'reversed':
        changes = [...changes].reverse();
        break;
      case 'garbage':
        changes.splice(r.int(changes.length + 1), 0, this.garbage(sim));
        break;
      case 'seqSkip':
        changes.splice(r.int(changes.length + 1), 0, this.seqSkipped(sim, docId));
        break;
      case 'inWriteDup':
        if (changes.length > 0) changes.splice(r.int(changes.length + 1), 0, r.pick(changes));
        break;
      default:
        break;
    }
    if (mode !== 'garbage' && changes.length > 0 && r.chance(0.12)) {
      // A second fault in the same write: which one is reported depends on the order of checks.
      changes.splice(r.int(changes.length + 1), 0, this.garbage(sim));
    }
    if (changes.length === 0) {
      // Nothing new to send: replay something the server has, or make a change.
      changes = m.exists
        ? [(m.known.get(r.pick(m.log)) as ChangeMeta).bytes]
        : [this.makeChange(sim)];
    }
    let merge = false;
    let baseHeads: string[];
    if (r.chance(0.12)) {
      merge = true;
      baseHeads = subset(r, m.log, 0.1).slice(0, 3);
      if (r.chance(0.2)) {
        const unsent = [...this.made.keys()].filter((h) => !m.known.has(h));
        baseHeads.push(unsent.length > 0 ? r.pick(unsent) : 'ab'.repeat(32));
      }
    } else {
      baseHeads = this.pickBaseHeads(sim, docId);
    }
    return { write: { docId, baseHeads, merge, changes }, mode };
  }

  genReads(actor: number): ModelTx['reads'] {
    const r = this.r;
    if (!r.chance(0.3)) return [];
    const docs = subset(r, this.docIds, 0.5);
    return docs.map((docId) => {
      const m = this.model.doc(docId);
      const x = r.next();
      const heads =
        x < 0.6 ? m.heads : x < 0.9 ? r.pick(m.headsHistory) : this.sim(actor, docId).belief;
      return { docId, heads };
    });
  }

  genTx(): { actor: number; tx: ModelTx; desc: string } {
    const r = this.r;
    const actor = 1 + r.int(ACTORS);
    const reads = this.genReads(actor);
    if (r.chance(0.08) && this.sentWrites.length > 0) {
      // A whole replay of an earlier write (a retry after a lost answer), any base heads.
      const old = r.pick(this.sentWrites);
      const baseHeads = r.chance(0.5)
        ? this.model.doc(old.docId).heads
        : r.pick(this.model.doc(old.docId).headsHistory);
      const write: ModelWrite = { docId: old.docId, baseHeads, merge: false, changes: old.changes };
      return { actor, tx: { reads, writes: [write] }, desc: `actor ${actor} replays ${old.docId}` };
    }
    const docs = subset(r, this.docIds, 0.45);
    if (docs.length === 0) docs.push(r.pick(this.docIds));
    const parts = docs.map((d) => this.genWrite(actor, d));
    const desc = `actor ${actor} writes ${parts
      .map(
        (p) =>
          `${p.write.docId}:${p.mode}${p.write.merge ? '+merge' : ''}(${p.write.changes.length})`,
      )
      .join(' ')}${reads.length ? ` reads ${reads.map((x) => x.docId).join(',')}` : ''}`;
    return { actor, tx: { reads, writes: parts.map((p) => p.write) }, desc };
  }

  body(tx: ModelTx): unknown {
    const explicit = this.r.chance(0.3);
    return {
      ...(tx.reads.length > 0
        ? {
            reads: tx.reads.map((x) => ({
              docId: x.docId,
              heads: x.heads,
              ...(explicit ? { branch: 'main' } : {}),
            })),
          }
        : {}),
      writes: tx.writes.map((w) => ({
        docId: w.docId,
        ...(explicit ? { branch: 'main' } : {}),
        baseHeads: w.baseHeads,
        changes: w.changes.map(b64),
        ...(w.merge ? { merge: true } : {}),
      })),
    };
  }

  /** Compares an engine outcome with the oracle's prediction, then applies it to the model. */
  async settle(actor: number, tx: ModelTx, out: TxOutcome, deferred?: Snapshot[]): Promise<void> {
    const p: Prediction = this.model.predict(tx);
    this.txCount++;
    const key = p.ok ? (p.changed ? 'committed' : 'no-op') : p.code;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    const got = out.ok ? 'commit' : `refused ${out.error.code}: ${out.error.message}`;
    expect(out.ok, `outcome: oracle predicts ${p.ok ? 'commit' : p.code}, engine ${got}`).toBe(
      p.ok,
    );
    for (const w of tx.writes) {
      // Never resend a crafted change: once its seq comes due it would be accepted with bogus ops.
      if (!w.changes.some((c) => this.crafted.has(c))) {
        this.sentWrites.push({ docId: w.docId, changes: w.changes });
      }
    }
    if (p.ok && out.ok) {
      expect(out.epoch, 'receipt epoch').toBe(p.epoch);
      expect(out.committedAt, 'committedAt is non-decreasing').toBeGreaterThanOrEqual(
        this.lastCommittedAt,
      );
      if (!p.changed && this.lastTxHash !== undefined) {
        expect(out.txHash, 'a no-op answers with the current tx hash').toBe(this.lastTxHash);
        expect(out.committedAt, 'a no-op answers with the current commit time').toBe(
          this.lastCommittedAt,
        );
      }
      this.lastCommittedAt = out.committedAt;
      this.lastTxHash = out.txHash;
      expect(
        out.results.map((w) => ({ ...w })),
        'receipt results',
      ).toEqual(
        p.writes.map((w) => ({
          docId: w.docId,
          branch: 'main',
          status: 'ok',
          seq: w.seq,
          newHeads: w.newHeads,
          rootRef: rootRefOf(w.newHeads),
          applied: w.applied,
          duplicates: w.duplicates,
        })),
      );
      this.model.commit(p);
      for (const w of p.writes)
        this.seen.maxHeads = Math.max(this.seen.maxHeads, w.newHeads.length);
      if (tx.writes.some((w) => w.merge)) this.seen.merges++;
      if (p.writes.filter((w) => w.applied > 0).length > 1) this.seen.multiWrite++;
      for (const w of p.writes) this.sim(actor, w.docId).belief = w.newHeads;
      if (deferred) {
        for (const w of p.writes.filter((x) => x.applied > 0)) {
          const m = this.model.doc(w.docId);
          deferred.push({
            docId: w.docId,
            epoch: p.epoch,
            seq: m.log.length,
            heads: m.heads,
            json: docToJson(m.doc),
          });
        }
      }
    } else if (!p.ok && !out.ok) {
      const e = out.error;
      expect(e.code, `error code (${e.message})`).toBe(p.code);
      expect(e.docId, 'error docId').toBe(p.docId);
      if (p.currentHeads) {
        expect(sortedHeads(e.currentHeads ?? []), 'error currentHeads').toEqual(p.currentHeads);
        this.sim(actor, p.docId).belief = sortedHeads(e.currentHeads ?? []);
      }
      if (p.changeIndex !== undefined)
        expect(e.changeIndex, 'error changeIndex').toBe(p.changeIndex);
      expect(
        out.results.map((w) => ({ ...w })),
        'per-write statuses',
      ).toEqual(
        tx.writes.map((w, i) => {
          const status =
            p.failedWrite === null || i > p.failedWrite
              ? 'notChecked'
              : i < p.failedWrite
                ? 'aborted'
                : 'error';
          return {
            docId: w.docId,
            branch: 'main',
            status,
            ...(status === 'error' ? { code: p.code } : {}),
          };
        }),
      );
    }
    if (deferred) return; // the engine is already past this transaction
    const touched = new Set([...tx.reads.map((x) => x.docId), ...tx.writes.map((w) => w.docId)]);
    for (const d of touched) await this.checkDoc(d, false);
    await this.checkTip();
  }

  /** A doc as the model had it right after a pipelined commit, read back with `epoch=`. */
  async checkSnapshot(s: Snapshot): Promise<void> {
    const v = await this.engine.cairn.reader.readDoc(SPACE, s.docId, 'main', {
      kind: 'epoch',
      epoch: s.epoch,
    });
    const what = `${s.docId} at epoch ${s.epoch}`;
    expect(v.epoch, `${what}: epoch`).toBe(s.epoch);
    expect(v.seq, `${what}: seq`).toBe(s.seq);
    expect(v.heads, `${what}: heads`).toEqual(s.heads);
    expect(v.json(), `${what}: JSON value`).toEqual(s.json);
  }

  /** The engine's current state of a doc against the model (and its log, when `withLog`). */
  async checkDoc(docId: string, withLog: boolean): Promise<void> {
    const m = this.model.doc(docId);
    const reader = this.engine.cairn.reader;
    if (!m.exists) {
      await expect(
        reader.readDoc(SPACE, docId, 'main', { kind: 'current' }),
        `${docId} must not exist`,
      ).rejects.toMatchObject({
        code: 'DocNotFound',
      });
      return;
    }
    const v = await reader.readDoc(SPACE, docId, 'main', { kind: 'current' });
    expect(v.seq, `${docId} seq`).toBe(m.log.length);
    expect(v.heads, `${docId} heads`).toEqual(m.heads);
    expect(sortedHeads(A.getHeads(m.doc)), `${docId} heads of the oracle's own doc`).toEqual(
      m.heads,
    );
    expect(v.epoch, `${docId} epoch of its last commit`).toBe(m.lastEpoch);
    expect(v.rootRef, `${docId} rootRef`).toBe(rootRefOf(m.heads));
    expect(v.json(), `${docId} JSON value`).toEqual(docToJson(m.doc));
    if (withLog) {
      const { items } = await reader.changes(SPACE, docId, 'main', { fromSeq: 1, limit: 100_000 });
      expect(
        items.map((c) => c.hash),
        `${docId} log order`,
      ).toEqual(m.log);
      expect(items.map((c) => c.seq)).toEqual(m.log.map((_, i) => i + 1));
    }
  }

  /** The tx chain ends exactly at the model's epoch. */
  async checkTip(): Promise<void> {
    if (this.model.epoch === 0) return;
    const reader = this.engine.cairn.reader;
    const tip = await reader.txRecord(SPACE, this.model.epoch);
    expect(tip.epoch, 'tx chain tip').toBe(this.model.epoch);
    await expect(
      reader.txRecord(SPACE, this.model.epoch + 1),
      'no tx record past the epoch',
    ).rejects.toMatchObject({
      code: 'VersionNotFound',
    });
  }

  async checkAll(): Promise<void> {
    for (const d of this.docIds) await this.checkDoc(d, true);
    await this.checkTip();
  }

  // ---- steps -------------------------------------------------------------

  async step(): Promise<void> {
    const r = this.r;
    const x = r.next();
    if (x < 0.03) {
      this.note = 'reopen';
      this.seen.reopens++;
      await this.engine.reopen();
      await this.checkAll();
    } else if (x < 0.08) {
      await this.forkStep();
    } else if (x < 0.16) {
      // Pipelined: several transactions sent before any answer (one group-commit batch).
      const txs = Array.from({ length: 2 + r.int(2) }, () => this.genTx());
      this.seen.pipelined++;
      this.note = `pipelined [${txs.map((t) => t.desc).join(' | ')}]`;
      const outs = await Promise.all(txs.map((t) => this.engine.tx(this.body(t.tx))));
      const snapshots: Snapshot[] = [];
      for (const [i, t] of txs.entries()) {
        await this.settle(t.actor, t.tx, outs[i] as TxOutcome, snapshots);
      }
      const touched = new Set(
        txs.flatMap((t) => [...t.tx.reads, ...t.tx.writes].map((x) => x.docId)),
      );
      for (const d of touched) await this.checkDoc(d, false);
      await this.checkTip();
      for (const snap of snapshots) await this.checkSnapshot(snap);
    } else {
      const t = this.genTx();
      this.note = t.desc;
      await this.settle(t.actor, t.tx, await this.engine.tx(this.body(t.tx)));
    }
  }

  /**
   * A client that lost its state reuses its actor id: a replica rebuilt from
   * the server makes a change with the same seq as the old replica's next
   * change. The first to arrive commits; the other is NonMonotonicSeq.
   */
  async forkStep(): Promise<void> {
    const r = this.r;
    const actor = 1 + r.int(ACTORS);
    const docId = r.pick(this.docIds);
    const old = this.sim(actor, docId);
    const actorHex = actorId(actor);
    const m = this.model.doc(docId);
    // Only when no replica holds a change of this actor that the server lacks
    // (an Automerge doc must never see two changes with one actor and seq).
    const unsafe = this.sims.some((s) =>
      [...(s.get(docId) as Sim).has].some(
        (h) => !m.known.has(h) && this.made.get(h)?.meta.actor === actorHex,
      ),
    );
    if (unsafe) {
      this.note = 'fork skipped';
      return;
    }
    const rebuilt = this.freshSim(actor, m.doc, m.log);
    const first = this.makeChange(rebuilt);
    const second = this.makeChange(old);
    if (A.decodeChange(first).seq !== A.decodeChange(second).seq) {
      throw new Error('fork: the two replicas should have made the same actor seq');
    }
    this.note = `fork of actor ${actor} on ${docId}`;
    this.seen.forks++;
    const tx1: ModelTx = {
      reads: [],
      writes: [{ docId, baseHeads: m.heads, merge: false, changes: [first] }],
    };
    await this.settle(actor, tx1, await this.engine.tx(this.body(tx1)));
    rebuilt.belief = this.model.doc(docId).heads;
    const changes = this.pending(old, docId); // ends with `second`
    if (changes[changes.length - 1] !== second) throw new Error('fork: `second` is not pending');
    const tx2: ModelTx = {
      reads: [],
      writes: [{ docId, baseHeads: this.model.doc(docId).heads, merge: false, changes }],
    };
    await this.settle(actor, tx2, await this.engine.tx(this.body(tx2)));
    // The old replica is abandoned; nobody else ever saw `second`.
    (this.sims[actor - 1] as Map<string, Sim>).set(docId, rebuilt);
  }
}

describe('engine vs SPEC §2 model', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS} random steps agree with the oracle`, async () => {
      const engine = await startEngine();
      const started = performance.now();
      const run = new ModelRun(engine, seed);
      let steps = 0;
      try {
        for (let i = 0; i < STEPS; i++) {
          if (performance.now() - started > SEED_BUDGET_MS) {
            console.warn(`seed=${seed}: time budget reached after ${i} steps`);
            break;
          }
          try {
            await run.step();
          } catch (err) {
            if (err instanceof Error) {
              err.message = `seed=${seed} step=${i} (replay: CAIRN_SEED=${seed}) [${run.note}]: ${err.message}`;
            }
            throw err;
          }
          steps = i + 1;
        }
        try {
          await engine.reopen();
          await run.checkAll();
        } catch (err) {
          if (err instanceof Error) err.message = `seed=${seed} final check: ${err.message}`;
          throw err;
        }
      } finally {
        await engine.close();
      }
      const ms = performance.now() - started;
      const counts = [...run.outcomes]
        .sort()
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const seen = Object.entries(run.seen)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(
        `seed=${seed}: ${steps} steps, ${run.txCount} transactions, epoch ${run.model.epoch}, ` +
          `${run.made.size} changes made, ${(ms / 1000).toFixed(1)} s; outcomes: ${counts}; seen: ${seen}`,
      );
      expect(run.model.epoch).toBeGreaterThan(0);
    });
  }

  it('checks each change in order: an unknown dep before an undecodable change is MissingDependency', async () => {
    // SPEC §2 step 5 checks "per change, in order"; the model above relies on it.
    const engine = await startEngine();
    try {
      const rep = new Replica(1);
      const first = rep.change((d) => {
        d.a = 1;
      });
      const second = rep.change((d) => {
        d.a = 2;
      });
      const garbage = Buffer.from('not an automerge change');
      const body = {
        writes: [{ docId: 'order', baseHeads: [], changes: [b64(second), b64(garbage)] }],
      };
      const model = new SpaceModel();
      const p = model.predict({
        reads: [],
        writes: [{ docId: 'order', baseHeads: [], merge: false, changes: [second, garbage] }],
      });
      expect(p).toMatchObject({ ok: false, code: 'MissingDependency', changeIndex: 0 });
      const out = await engine.refused(body);
      expect(out.error.code, out.error.message).toBe('MissingDependency');
      expect(out.error.changeIndex).toBe(0);
      await engine.ok({
        writes: [{ docId: 'order', baseHeads: [], changes: [b64(first), b64(second)] }],
      });
    } finally {
      await engine.close();
    }
  });
});
