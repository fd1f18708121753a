import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/json.js';
import { docToJson } from '../../src/crdt/automerge/to-json.js';
import type { TxRequest } from '../../src/protocol/tx-request.js';
import { DocCache } from '../../src/read/doc-cache.js';
import { DocReader } from '../../src/read/doc-reader.js';
import type { SnapshotMeta } from '../../src/storage/types.js';
import { actorId } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';

/**
 * Property test of the read path (SPEC §3, §5): seeded replicas of one doc
 * write a concurrent change DAG to two branches; every 37th seq of each branch
 * must read as `Automerge.view` of a locally kept full doc at the same heads,
 * and `Automerge.save()` of a read must be the same bytes whether the read came
 * from a snapshot, the raw log or the cache. `CAIRN_SEED=<n>` replays a run.
 */

const DOC = 'prop';
const EVERY = 37;
/** main's log length before the fork is chosen. */
const MAIN_BEFORE_FORK = 700;
/** Where each branch's log ends up (at least). */
const MAIN_TARGET = 1400;
const FEATURE_OWN_TARGET = 900;
const SNAPSHOT_EVERY = 150;
/** Steps at most, so a generator bug cannot loop forever. */
const MAX_STEPS = 20_000;
/** Point reads whose bytes are compared three ways, per branch. */
const BYTE_SAMPLES = 10;

interface Change {
  hash: string;
  deps: string[];
  bytes: Uint8Array;
}

interface Shape {
  m: Record<string, unknown>;
  l: unknown[];
  t: string;
  c: A.Counter;
}

function decoded(bytes: Uint8Array): Change {
  const d = A.decodeChange(bytes);
  if (typeof d.hash !== 'string') throw new Error('change without a hash');
  return { hash: d.hash, deps: [...d.deps], bytes };
}

/** A replica that knows a set of changes, kept in the (causal) order it integrated them. */
class Peer {
  doc: A.Doc<Shape>;
  readonly known: Change[] = [];
  private readonly has = new Set<string>();
  /**
   * Makes every value written distinct: Automerge drops a put of the value
   * already there. Shared by all peers, since a fork starts from the others' values.
   */
  private static serial = 0;

  constructor(
    readonly name: string,
    actor: string,
    history: readonly Change[] = [],
  ) {
    this.doc = A.init<Shape>({ actor });
    this.receive(history);
  }

  /** Applies, in one batch, the changes of `from` it lacks (`from` in causal order). */
  receive(from: readonly Change[]): void {
    const fresh = from.filter((c) => !this.has.has(c.hash));
    if (fresh.length === 0) return;
    [this.doc] = A.applyChanges(
      this.doc,
      fresh.map((c) => c.bytes),
    );
    for (const c of fresh) this.record(c);
  }

  /** One local change; returns it. */
  change(fn: (d: Shape) => void): Change {
    const before = A.getHeads(this.doc).join();
    this.doc = A.change(this.doc, fn);
    const bytes = A.getLastLocalChange(this.doc);
    if (!bytes || A.getHeads(this.doc).join() === before) {
      throw new Error(`${this.name}: a change made no ops`);
    }
    const c = decoded(bytes);
    this.record(c);
    return c;
  }

  /** A small random edit: map keys, nested values, list inserts/deletes, text splices, counters. */
  edit(rng: SeededRandom): void {
    const ops = 1 + rng.int(3);
    this.change((d) => {
      for (let i = 0; i < ops; i++) {
        const kind = rng.int(8);
        const keys = Object.keys(d.m);
        if (kind === 0 || (kind === 1 && keys.length === 0)) {
          d.m[`k${rng.int(24)}`] = rng.chance(0.5)
            ? ++Peer.serial
            : `${this.name}.${++Peer.serial}`;
        } else if (kind === 1) {
          delete d.m[rng.pick(keys)];
        } else if (kind === 2) {
          d.m[`n${rng.int(6)}`] = { v: ++Peer.serial, tags: [rng.int(10), this.name] };
        } else if (kind === 3 || (kind === 4 && d.l.length === 0)) {
          d.l.splice(rng.int(d.l.length + 1), 0, rng.chance(0.7) ? rng.int(1000) : this.name);
        } else if (kind === 4) {
          d.l.splice(rng.int(d.l.length), 1 + rng.int(2));
        } else if (kind === 5 || kind === 6) {
          const len = d.t.length;
          const pos = rng.int(len + 1);
          const del = rng.chance(0.3) ? Math.min(len - pos, rng.int(4)) : 0;
          const ins = rng.chance(0.8) ? 'abcdefghij'.slice(0, 1 + rng.int(6)) : '';
          if (del === 0 && ins === '') d.c.increment(1);
          else A.splice(d, ['t'], pos, del, ins);
        } else {
          d.c.increment(1 + rng.int(5));
        }
      }
    });
  }

  private record(c: Change): void {
    this.known.push(c);
    this.has.add(c.hash);
  }
}

/** What the test knows of one branch: its log in order, heads after every prefix, the full doc. */
class BranchModel {
  readonly log: Change[];
  readonly inLog = new Set<string>();
  /** headsAt[seq]: sorted heads after the first `seq` changes of the log. */
  readonly headsAt: string[][];
  private readonly heads: Set<string>;
  full: A.Doc<unknown>;

  constructor(
    readonly name: string,
    readonly peers: Peer[],
    prefix: { log: readonly Change[]; headsAt: readonly string[][] } = { log: [], headsAt: [[]] },
  ) {
    this.log = [...prefix.log];
    for (const c of this.log) this.inLog.add(c.hash);
    this.headsAt = [...prefix.headsAt];
    this.heads = new Set(this.headsAt[this.headsAt.length - 1]);
    this.full = A.init();
    if (this.log.length > 0)
      [this.full] = A.applyChanges(
        this.full,
        this.log.map((c) => c.bytes),
      );
  }

  get seq(): number {
    return this.log.length;
  }

  get currentHeads(): string[] {
    return [...this.heads].sort();
  }

  append(changes: readonly Change[]): void {
    for (const c of changes) {
      this.log.push(c);
      this.inLog.add(c.hash);
      for (const d of c.deps) this.heads.delete(d);
      this.heads.add(c.hash);
      this.headsAt.push([...this.heads].sort());
    }
    // One batch per transaction: applying one change per call is quadratic.
    [this.full] = A.applyChanges(
      this.full,
      changes.map((c) => c.bytes),
    );
  }

  /** Changes `peer` has that this branch lacks, in causal order. */
  missingFrom(peer: Peer): Change[] {
    return peer.known.filter((c) => !this.inLog.has(c.hash));
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): string | undefined {
  if (Buffer.compare(a, b) === 0) return undefined;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `lengths ${a.length} vs ${b.length}, first difference at byte ${i}`;
}

describe('history property: point reads against a local full doc', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine({
      snapshotPolicy: { everyChanges: SNAPSHOT_EVERY, everyBytes: 1 << 30, keep: 100 },
    });
  });
  afterEach(async () => {
    await engine.close();
  });

  it('reads every 37th seq of two branches as Automerge.view at its heads, with the same bytes from snapshot, log and cache', async () => {
    const seed = testSeed();
    const tag = `seed=${seed} (replay with CAIRN_SEED=${seed})`;
    const rng = new SeededRandom(seed);
    const started = Date.now();
    try {
      // ---- generate and commit ------------------------------------------------
      let transactions = 0;
      let largestTx = 0;
      const commit = async (writes: { b: BranchModel; changes: Change[] }[]): Promise<void> => {
        const request: TxRequest = {
          reads: [],
          writes: writes.map(({ b, changes }) => ({
            docId: DOC,
            branch: b.name,
            baseHeads: b.currentHeads,
            changes: changes.map((c) => c.bytes),
            merge: false,
            mergeOf: [],
            closeMerged: false,
          })),
        };
        const out = await engine.cairn.pipeline.commit(SPACE, request);
        if (!out.ok) {
          throw new Error(
            `${tag}: transaction ${transactions} refused: ${JSON.stringify(out.error)}`,
          );
        }
        transactions++;
        writes.forEach(({ b, changes }, i) => {
          b.append(changes);
          largestTx = Math.max(largestTx, changes.length);
          const r = out.results[i];
          expect(r, `${tag}: result of ${b.name}`).toMatchObject({
            seq: b.seq,
            applied: changes.length,
            duplicates: 0,
          });
          expect([...(r?.newHeads ?? [])].sort(), `${tag}: heads of ${b.name}@${b.seq}`).toEqual(
            b.currentHeads,
          );
        });
      };

      /** One random step of one branch: maybe sync, edit, maybe commit 1-50 changes. */
      const step = async (b: BranchModel): Promise<void> => {
        const peer = rng.pick(b.peers);
        const r = rng.next();
        if (r < 0.15) peer.receive(rng.pick(b.peers.filter((p) => p !== peer)).known);
        else if (r < 0.25) peer.receive(b.log);
        const edits = rng.chance(0.08) ? 20 + rng.int(31) : 1 + rng.int(6);
        for (let i = 0; i < edits; i++) peer.edit(rng);
        if (rng.chance(0.45)) {
          const missing = b.missingFrom(peer);
          if (missing.length > 0) await commit([{ b, changes: missing.slice(0, 1 + rng.int(50)) }]);
        }
      };

      const mainPeers = [1, 2, 3].map((n) => new Peer(`a${n}`, actorId(n)));
      const main = new BranchModel('main', mainPeers);
      const [first] = mainPeers as [Peer, ...Peer[]];
      await commit([
        {
          b: main,
          changes: [
            first.change((d) => {
              d.m = {};
              d.l = [];
              d.t = '';
              d.c = new A.Counter(0);
            }),
          ],
        },
      ]);
      for (const p of mainPeers) p.receive(main.log);

      let steps = 0;
      while (main.seq < MAIN_BEFORE_FORK) {
        if (++steps > MAX_STEPS) throw new Error(`${tag}: generator stuck before the fork`);
        await step(main);
      }

      // Fork from a point of main, usually below its current seq.
      const forkSeq = Math.floor(main.seq * (0.5 + 0.5 * rng.next()));
      const view = await engine.cairn.branches.create(SPACE, DOC, 'feature', {
        branch: 'main',
        version: { kind: 'seq', seq: forkSeq },
      });
      expect(view, tag).toMatchObject({ parent: 'main', forkSeq, seq: forkSeq });
      expect(view.heads, tag).toEqual(main.headsAt[forkSeq]);
      const forkPrefix = {
        log: main.log.slice(0, forkSeq),
        headsAt: main.headsAt.slice(0, forkSeq + 1),
      };
      const featurePeers = [4, 5, 6].map((n) => new Peer(`f${n}`, actorId(n), forkPrefix.log));
      const feature = new BranchModel('feature', featurePeers, forkPrefix);

      const featureOwn = () => feature.seq - forkSeq;
      while (main.seq < MAIN_TARGET || featureOwn() < FEATURE_OWN_TARGET) {
        if (++steps > MAX_STEPS) throw new Error(`${tag}: generator stuck after the fork`);
        if (rng.chance(0.1)) {
          // One transaction writing both branches.
          const pm = rng.pick(main.peers);
          const pf = rng.pick(feature.peers);
          pm.edit(rng);
          pf.edit(rng);
          await commit([
            { b: main, changes: main.missingFrom(pm).slice(0, 1 + rng.int(50)) },
            { b: feature, changes: feature.missingFrom(pf).slice(0, 1 + rng.int(50)) },
          ]);
          continue;
        }
        // The branch further behind its target is more likely to be written.
        const mainBehind = Math.max(0, MAIN_TARGET - main.seq);
        const featureBehind = Math.max(0, FEATURE_OWN_TARGET - featureOwn());
        await step(rng.next() * (mainBehind + featureBehind) < mainBehind ? main : feature);
      }
      const generated = Date.now();

      // Pinned snapshots on request: one of main below the fork, one of feature above it.
      const pinnedMain = 1 + rng.int(forkSeq);
      const pinnedFeature = forkSeq + 1 + rng.int(featureOwn());
      await engine.cairn.snapshots.makeNow(SPACE, DOC, 'main', pinnedMain);
      await engine.cairn.snapshots.makeNow(SPACE, DOC, 'feature', pinnedFeature);
      await engine.cairn.snapshots.idle();
      expect(engine.cairn.snapshots.stats.failed, tag).toBe(0);

      const branchIds = new Map<string, number>();
      const snapshotsOf = async (name: string): Promise<SnapshotMeta[]> =>
        engine.cairn.reader.withSpace(SPACE, async (ops) => {
          const b = await ops.getBranch(DOC, name);
          if (!b) throw new Error(`${tag}: no branch ${name}`);
          branchIds.set(name, b.id);
          return ops.listSnapshots(b.id);
        });
      const mainSnaps = await snapshotsOf('main');
      const featureSnaps = await snapshotsOf('feature');
      expect(mainSnaps.length, tag).toBeGreaterThanOrEqual(MAIN_TARGET / SNAPSHOT_EVERY / 2);
      expect(featureSnaps.length, tag).toBeGreaterThanOrEqual(
        FEATURE_OWN_TARGET / SNAPSHOT_EVERY / 2,
      );
      expect(
        mainSnaps.some((s) => s.seq <= forkSeq),
        tag,
      ).toBe(true);
      /** Whether a read of `seq` through this branch has a snapshot at or below it in its lineage. */
      const snapshotBelow = (b: BranchModel, seq: number): boolean =>
        b === main
          ? mainSnaps.some((s) => s.seq <= seq)
          : mainSnaps.some((s) => s.seq <= Math.min(seq, forkSeq)) ||
            featureSnaps.some((s) => s.seq <= seq);

      // ---- the stored logs are the logs the test committed -------------------
      for (const b of [main, feature]) {
        const { items } = await engine.cairn.reader.changes(SPACE, DOC, b.name, {
          fromSeq: 1,
          limit: 1_000_000,
        });
        expect(
          items.map((e) => e.hash),
          `${tag}: log of ${b.name}`,
        ).toEqual(b.log.map((c) => c.hash));
      }

      // ---- every 37th seq of each branch, in random order, through the engine's reader
      const reads: { b: BranchModel; seq: number }[] = [];
      for (const b of [main, feature]) {
        for (let seq = EVERY; seq <= b.seq; seq += EVERY) reads.push({ b, seq });
        reads.push({ b, seq: b.seq });
      }
      for (let i = reads.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [reads[i], reads[j]] = [
          reads[j] as (typeof reads)[number],
          reads[i] as (typeof reads)[number],
        ];
      }
      const expectedJson = new Map<string, JsonValue>();
      const expected = (b: BranchModel, seq: number): JsonValue => {
        const key = `${b.name}@${seq}`;
        let value = expectedJson.get(key);
        if (value === undefined) {
          value = docToJson(A.view(b.full, b.headsAt[seq] as string[]));
          expectedJson.set(key, value);
        }
        return value;
      };
      const engineReader = engine.cairn.reader;
      const before = { ...engineReader.stats };
      for (const { b, seq } of reads) {
        const where = `${tag}: ${b.name}@${seq}`;
        const read = await engineReader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        expect(read.seq, where).toBe(seq);
        expect(read.heads, `${where}: heads`).toEqual(b.headsAt[seq]);
        expect(read.json(), `${where}: value`).toEqual(expected(b, seq));
      }
      expect(engineReader.stats.fromSnapshot, tag).toBeGreaterThan(before.fromSnapshot);
      expect(engineReader.stats.corruptSnapshots, tag).toBe(0);

      // ---- bytes: snapshot vs cache now, raw log after the snapshots are gone
      const samples: { b: BranchModel; seq: number }[] = [];
      for (const b of [main, feature]) {
        const own = reads.filter((r) => r.b === b).map((r) => r.seq);
        const picked = new Set<number>([b.seq]);
        if (b === feature) {
          // Below the fork: shared history read through the child branch.
          const shared = own.filter((s) => s <= forkSeq);
          picked.add(rng.pick(shared));
          picked.add(rng.pick(shared));
        }
        for (let i = 0; picked.size < BYTE_SAMPLES && i < 100; i++) picked.add(rng.pick(own));
        for (const seq of [...picked].sort((x, y) => x - y)) samples.push({ b, seq });
      }

      const fromSnapshot = new Map<string, Uint8Array>();
      const fromCache = new Map<string, Uint8Array>();
      const fromEngineCache = new Map<string, Uint8Array>();
      /** Byte mismatches, collected so one run reports all of them (after every other check). */
      const mismatches: string[] = [];
      const compareBytes = (what: string, a?: Uint8Array, b?: Uint8Array): void => {
        if (!a || !b) throw new Error(`${tag}: ${what}: bytes missing`);
        const problem = sameBytes(a, b);
        if (problem) mismatches.push(`${what}: ${problem}`);
      };
      let servedBySnapshot = 0;
      for (const { b, seq } of samples) {
        const key = `${b.name}@${seq}`;
        const where = `${tag}: ${key}`;
        const reader = new DocReader(engine.cairn.backend, { cache: new DocCache(1 << 30) });
        const first = await reader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        const viaSnapshot = snapshotBelow(b, seq);
        expect(reader.stats, `${where}: first read`).toMatchObject({
          fromCache: 0,
          fromSnapshot: viaSnapshot ? 1 : 0,
          fromLog: viaSnapshot ? 0 : 1,
          corruptSnapshots: 0,
        });
        if (viaSnapshot) servedBySnapshot++;
        expect(first.heads, `${where}: heads`).toEqual(b.headsAt[seq]);
        expect(first.json(), `${where}: value`).toEqual(expected(b, seq));
        // Served bytes (`Accept: application/automerge`) on a reader whose doc came from a snapshot.
        const served = await reader.readDocBytes(SPACE, DOC, b.name, { kind: 'seq', seq });
        expect(served.heads, `${where}: served heads`).toEqual(b.headsAt[seq]);
        expect(docToJson(A.load(served.bytes)), `${where}: served bytes load`).toEqual(
          expected(b, seq),
        );
        fromSnapshot.set(key, served.bytes);
        await reader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        expect(reader.stats.fromCache, `${where}: second read`).toBe(1);
        fromCache.set(
          key,
          (await reader.readDocBytes(SPACE, DOC, b.name, { kind: 'seq', seq })).bytes,
        );
        // The engine's reader has this seq cached (from the sweep above, or from the read just before).
        await engineReader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        const cachedBefore = engineReader.stats.fromCache;
        const engineRead = await engineReader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        expect(engineReader.stats.fromCache, `${where}: engine cache`).toBe(cachedBefore + 1);
        expect(engineRead.json(), `${where}: engine cache value`).toEqual(expected(b, seq));
        const engineBytes = (
          await engineReader.readDocBytes(SPACE, DOC, b.name, { kind: 'seq', seq })
        ).bytes;
        fromEngineCache.set(key, engineBytes);
        compareBytes(
          `${key}: cache (same reader) vs snapshot`,
          fromCache.get(key),
          fromSnapshot.get(key),
        );
        compareBytes(
          `${key}: cache (engine reader) vs snapshot`,
          engineBytes,
          fromSnapshot.get(key),
        );
      }
      expect(servedBySnapshot, `${tag}: reads served by a snapshot`).toBeGreaterThanOrEqual(2);

      await engine.cairn.pipeline.runWrite(SPACE, async (ops) => {
        for (const id of branchIds.values()) {
          await ops.deleteSnapshots((await ops.listSnapshots(id)).map((s) => s.id));
        }
      });
      expect(await snapshotsOf('main'), tag).toEqual([]);
      expect(await snapshotsOf('feature'), tag).toEqual([]);

      for (const { b, seq } of samples) {
        const key = `${b.name}@${seq}`;
        const where = `${tag}: ${key}`;
        const reader = new DocReader(engine.cairn.backend, { cache: new DocCache(1 << 30) });
        const read = await reader.readDoc(SPACE, DOC, b.name, { kind: 'seq', seq });
        expect(reader.stats, `${where}: raw log read`).toMatchObject({
          fromCache: 0,
          fromSnapshot: 0,
          fromLog: 1,
        });
        expect(read.heads, `${where}: heads`).toEqual(b.headsAt[seq]);
        const rawBytes = (await reader.readDocBytes(SPACE, DOC, b.name, { kind: 'seq', seq }))
          .bytes;
        compareBytes(`${key}: raw log vs snapshot`, rawBytes, fromSnapshot.get(key));
        compareBytes(
          `${key}: raw log vs cache (engine reader)`,
          rawBytes,
          fromEngineCache.get(key),
        );
      }

      const distinct = new Set([...main.log, ...feature.log].map((c) => c.hash)).size;
      const actors = new Set(
        [...main.log, ...feature.log].map((c) => A.decodeChange(c.bytes).actor),
      ).size;
      // The DAG is concurrent: many read points have several heads.
      const multiHeaded = reads.filter(({ b, seq }) => (b.headsAt[seq]?.length ?? 0) > 1).length;
      console.log(
        `history property ${tag}: ${distinct} changes by ${actors} actors in ${transactions} ` +
          `transactions (largest ${largestTx}); main ${main.seq}, feature ${feature.seq} ` +
          `(forked at ${forkSeq}); ${mainSnaps.length}+${featureSnaps.length} snapshots ` +
          `(${engine.cairn.snapshots.stats.made} made); ${reads.length} point reads, ` +
          `${multiHeaded} of them with several heads, ${samples.length} byte-compared (${servedBySnapshot} via snapshot), ` +
          `${mismatches.length} byte mismatches; ` +
          `generate ${generated - started} ms, total ${Date.now() - started} ms`,
      );
      expect(distinct, tag).toBeGreaterThanOrEqual(2000);
      expect(actors, tag).toBeGreaterThanOrEqual(3);
      expect(multiHeaded, `${tag}: reads at a concurrent point`).toBeGreaterThan(reads.length / 4);
      expect(
        mismatches,
        `${tag}: Automerge.save() bytes differ by read path (${mismatches.length} of ` +
          `${samples.length * 4} comparisons)`,
      ).toEqual([]);
    } catch (err) {
      if (err instanceof Error && !err.message.includes(tag))
        err.message = `${tag}: ${err.message}`;
      throw err;
    }
  }, 180_000);
});
