import fs from 'node:fs';
import path from 'node:path';
import * as Automerge from '@automerge/automerge';
import Database from 'better-sqlite3';
import { createCairn, type Cairn } from '../src/app/create-cairn.js';
import { docToJson } from '../src/crdt/automerge/to-json.js';
import { loadDoc, materialize } from '../src/crdt/automerge/automerge-doc.js';
import { DEFAULT_SNAPSHOT_POLICY } from '../src/history/snapshot-policy.js';
import { parseTxRequest } from '../src/protocol/tx-request.js';
import { DocCache } from '../src/read/doc-cache.js';
import { DocReader } from '../src/read/doc-reader.js';
import { KindWorkers } from '../src/crdt/kind-workers.js';
import { silentLogger } from '../src/core/logger.js';
import { SPACES_DIR, spaceFileName } from '../src/storage/sqlite/sqlite-backend.js';
import type { SpaceReadOps } from '../src/storage/types.js';
import { loadTrace, traceFile, TRACE_MISSING } from '../test/helpers/trace-data.js';
import { fmtMs, seededRandom, summarize, type Summary } from './lib/percentiles.js';
import { printGrid } from './lib/report.js';
import { mainThreadCpuMs, mainThreadWrittenBytes } from './lib/thread-cpu.js';
import { nowMs, withTempDir } from './lib/timing.js';
import { hasNonBmp, replayTrace, type Replay, type SequentialTrace } from './lib/trace-replay.js';

const TRACE = 'automerge-paper';
const SPACE = 'did:key:z6MkBenchSpaceHistory';
/** The paired measurement's fresh space (see runIngest). */
const FRESH_SPACE = 'did:key:z6MkBenchSpaceHistoryFresh';
const DOC = 'paper';
const BRANCH = 'main';
/** A fixed server key: no key generation or settings write at start. */
const SERVER_KEY = Buffer.alloc(32, 12).toString('base64url');
const ACTOR = 'a1'.repeat(16);
const SEED = 0x5eed_2024;

export interface HistoryOptions {
  /** Changes per transaction during ingest. */
  batch: number;
  /** Point-in-time samples at most (each: baseline, cold, warm). */
  reads: number;
  /** Time budget of the point-in-time samples. */
  readSeconds: number;
  /** Caps of the untimed generation and of the ingest. */
  genMaxSeconds: number;
  ingestMaxSeconds: number;
}

export const DEFAULT_HISTORY_OPTIONS: HistoryOptions = {
  batch: 100,
  reads: 200,
  readSeconds: 90,
  genMaxSeconds: 90,
  ingestMaxSeconds: 150,
};

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function mb(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

function kRate(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : int.format(n);
}

function hashOf(change: Uint8Array): string {
  return Automerge.decodeChange(change).hash as string;
}

/**
 * The "History" section of `npm run bench` (issue "History"): the
 * automerge-paper trace replayed as one change per keystroke, committed in
 * batches, then read back at random points of its history. Returns whether
 * every target was met, or undefined when the trace is absent.
 */
export async function benchHistory(o: HistoryOptions): Promise<boolean | undefined> {
  const policy = DEFAULT_SNAPSHOT_POLICY;
  console.log(
    `History — ${TRACE} trace, one change per txn, SQLite synchronous=FULL (engine default), ` +
      `default snapshot policy (every ${policy.everyChanges} changes / ${mb(policy.everyBytes)}, keep ${policy.keep})`,
  );
  const file = traceFile(TRACE);
  if (!file) {
    console.log(`  ${TRACE_MISSING}`);
    return undefined;
  }
  const startedAt = nowMs();
  const prepared = await prepare(file, o);
  if (!prepared) return undefined;
  const { replay, total, samples, stageSeqs, headSeqs } = prepared;
  const n = replay.changes.length;

  return withTempDir('cairn-bench-history-', async (dataDir) => {
    const cairn = await createCairn({ dataDir, sync: 'full', serverKey: SERVER_KEY, auth: 'off' });
    let closed = false;
    try {
      const ingest = await runIngest(cairn, replay.changes, o);
      const made = cairn.snapshots.stats.made;
      const idleFrom = nowMs();
      await cairn.snapshots.idle();
      const idleMs = nowMs() - idleFrom;
      const kept = await withOps(cairn, async (ops) =>
        (await ops.listSnapshots(await branchIdIn(ops))).map((m) => m.seq),
      );
      const ingestMet = printIngest(ingest, n, total, o, {
        made,
        after: cairn.snapshots.stats.made - made,
        failed: cairn.snapshots.stats.failed,
        idleMs,
        kept,
        head: n,
      });
      console.log('');

      // A trace cut short by the generation or ingest cap is read only up to
      // what was committed (regression: the first sample used to be read
      // whether or not it existed, and the read phase crashed).
      const readable = Math.min(n, ingest.committed);
      if (readable < 1) {
        console.log('  point-in-time reads skipped: nothing was committed');
        return false;
      }
      const reads = await runReads(cairn, replay, readable, samples, headSeqs, o);
      const readsMet = printReads(reads, o);
      await printStages(
        cairn,
        replay,
        readable,
        stageSeqs,
        headSeqs[headSeqs.length - 1] as number,
      );
      console.log('');

      await cairn.close();
      closed = true;
      printDisk(dataDir, n, replay.finalSave);
      console.log(`  history section took ${((nowMs() - startedAt) / 1000).toFixed(0)}s`);
      return ingestMet && readsMet;
    } finally {
      if (!closed) await cairn.close();
    }
  });
}

interface Prepared {
  replay: Replay;
  /** Txns in the trace. */
  total: number;
  samples: number[];
  stageSeqs: number[];
  headSeqs: number[];
}

/**
 * Loads the trace and replays it (untimed); the parsed trace is dropped
 * afterwards so it does not weigh on the measured phases' garbage collection.
 */
async function prepare(file: string, o: HistoryOptions): Promise<Prepared | undefined> {
  const trace = loadTrace<SequentialTrace>(file);
  if (hasNonBmp(trace)) {
    // Positions are code points; Automerge indexes UTF-16 units. Not needed for this trace.
    console.log('  skipped: the trace has non-BMP characters (code-point positions not converted)');
    return undefined;
  }
  const total = trace.txns.length;
  // Samples are chosen before generation, so the baseline's saved states are made on the way.
  const rand = seededRandom(SEED);
  const samples = Array.from({ length: o.reads }, () => 1 + Math.floor(rand() * total));
  const stageSeqs = [Math.round(total / 4), Math.round(total / 2), Math.round((3 * total) / 4)];
  const headSeqs = [total - 300, total - 100, total];
  const replay = await replayTrace(trace, {
    actor: ACTOR,
    saveAt: [...samples, ...stageSeqs, ...headSeqs],
    maxSeconds: o.genMaxSeconds,
  });
  const n = replay.changes.length;
  const changeBytes = replay.changes.reduce((sum, c) => sum + c.byteLength, 0);
  console.log(
    `  ${int.format(total)} txns, all ASCII/BMP (code points = UTF-16 indexes); changes pre-generated untimed on a ` +
      `worker thread: ${int.format(n)} in ${(replay.ms / 1000).toFixed(1)}s, mean ${(changeBytes / n).toFixed(0)} B` +
      (replay.complete
        ? `, final text ${replay.textMatches ? '= endContent' : '≠ endContent (MISMATCH)'}`
        : `, STOPPED at the ${o.genMaxSeconds}s cap`),
  );
  return { replay, total, samples, stageSeqs, headSeqs };
}

// ---------------------------------------------------------------- ingest

/** One committed transaction of the ingest, measured around `pipeline.commit`. */
interface TxSample {
  changes: number;
  ms: number;
  /** Main-thread CPU and bytes written during the commit (undefined without /proc). */
  cpuMs: number | undefined;
  written: number | undefined;
}

interface Ingest {
  /** The trace's txs in order (the last tenth interleaved with `fresh`). */
  txs: TxSample[];
  /** The first tenth again, into a fresh space, one tx after each tx of the last tenth. */
  fresh: TxSample[];
  /** Tx index where each tenth of the planned txs starts (11 entries, the last = planned count). */
  bounds: number[];
  committed: number;
  ms: number;
  stoppedByCap: boolean;
}

function delta(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : b - a;
}

async function commitOne(
  cairn: Cairn,
  space: string,
  body: unknown,
  changes: number,
): Promise<TxSample> {
  const cpu0 = mainThreadCpuMs();
  const written0 = mainThreadWrittenBytes();
  const t0 = nowMs();
  const outcome = await cairn.pipeline.commit(space, parseTxRequest(body, cairn.limits));
  const ms = nowMs() - t0;
  const cpuMs = delta(cpu0, mainThreadCpuMs());
  const written = delta(written0, mainThreadWrittenBytes());
  if (!outcome.ok) throw new Error(`ingest tx refused: ${JSON.stringify(outcome.error)}`);
  return { changes, ms, cpuMs, written };
}

/**
 * Commits the whole trace in order, one tx of ≤ `batch` changes at a time.
 * The machine is shared, so fsync latency and CPU availability drift over
 * the run; to compare the last tenth with the first under the same
 * conditions, each tx of the last tenth is followed by the matching tx of
 * the first tenth into a fresh space (its own empty SQLite file).
 */
async function runIngest(cairn: Cairn, changes: Uint8Array[], o: HistoryOptions): Promise<Ingest> {
  // Bodies as a client would POST them, built untimed; baseHeads = the head before the batch.
  const bodies: unknown[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < changes.length; i += o.batch) {
    const slice = changes.slice(i, i + o.batch);
    const baseHeads = i === 0 ? [] : [hashOf(changes[i - 1] as Uint8Array)];
    bodies.push({
      writes: [
        { docId: DOC, baseHeads, changes: slice.map((c) => Buffer.from(c).toString('base64')) },
      ],
    });
    sizes.push(slice.length);
  }
  const bounds = Array.from({ length: 11 }, (_, d) => Math.round((d * bodies.length) / 10));
  const lastFrom = bounds[9] as number;
  const txs: TxSample[] = [];
  const fresh: TxSample[] = [];
  let committed = 0;
  const start = nowMs();
  const deadline = start + o.ingestMaxSeconds * 1000;
  for (let t = 0; t < bodies.length && nowMs() < deadline; t++) {
    const size = sizes[t] as number;
    txs.push(await commitOne(cairn, SPACE, bodies[t], size));
    committed += size;
    const k = t - lastFrom;
    if (k >= 0 && k < (bounds[1] as number)) {
      fresh.push(await commitOne(cairn, FRESH_SPACE, bodies[k], sizes[k] as number));
    }
  }
  return {
    txs,
    fresh,
    bounds,
    committed,
    ms: nowMs() - start,
    stoppedByCap: txs.length < bodies.length,
  };
}

interface Tenth {
  txs: number;
  changes: number;
  /** Sum of the txs' commit times. */
  ms: number;
  cpuMs: number | undefined;
  written: number | undefined;
  /** Changes per second of commit time. */
  rate: number;
}

function sumUp(samples: readonly TxSample[]): Tenth | undefined {
  if (samples.length === 0) return undefined;
  let changes = 0;
  let ms = 0;
  let cpuMs: number | undefined = 0;
  let written: number | undefined = 0;
  for (const s of samples) {
    changes += s.changes;
    ms += s.ms;
    cpuMs = cpuMs === undefined || s.cpuMs === undefined ? undefined : cpuMs + s.cpuMs;
    written = written === undefined || s.written === undefined ? undefined : written + s.written;
  }
  return { txs: samples.length, changes, ms, cpuMs, written, rate: changes / (ms / 1000) };
}

/** Tenth `d` (0-9) of the trace, or undefined if the ingest did not finish it. */
function tenth(ingest: Ingest, d: number): Tenth | undefined {
  const from = ingest.bounds[d] as number;
  const to = ingest.bounds[d + 1] as number;
  return to > ingest.txs.length ? undefined : sumUp(ingest.txs.slice(from, to));
}

function perChange(value: number | undefined, t: Tenth, unit: 'µs' | 'B'): string {
  if (value === undefined) return '—';
  return unit === 'µs'
    ? `${((1000 * value) / t.changes).toFixed(1)} µs`
    : `${int.format(value / t.changes)} B`;
}

function printIngest(
  ingest: Ingest,
  generated: number,
  total: number,
  o: HistoryOptions,
  snaps: {
    made: number;
    after: number;
    failed: number;
    idleMs: number;
    kept: number[];
    head: number;
  },
): boolean {
  const n = ingest.txs.length;
  console.log(
    `  ingest: ${int.format(n)} tx of ≤ ${o.batch} changes, sequential (parseTxRequest + pipeline.commit, ` +
      `await each receipt): ${int.format(ingest.committed)} changes in ${(ingest.ms / 1000).toFixed(1)}s ` +
      `(wall, incl. the paired txs below)` +
      (ingest.stoppedByCap ? ` — STOPPED at the ${o.ingestMaxSeconds}s cap` : ''),
  );
  console.log(
    `  snapshots (worker thread): ${snaps.made} made during ingest (both spaces), ${snaps.after} more after it ` +
      `(idle() waited ${(snaps.idleMs / 1000).toFixed(1)}s), ${snaps.failed} failed; kept at seqs ` +
      `${snaps.kept.map((k) => int.format(k)).join(', ')}: the newest is ` +
      `${int.format(snaps.head - Math.max(0, ...snaps.kept))} changes behind the head`,
  );
  const first = tenth(ingest, 0);
  const last = tenth(ingest, 9);
  const paired = sumUp(ingest.fresh);
  const complete = !ingest.stoppedByCap && generated === total;
  if (!first || !last || !paired) {
    console.log('  ingest did not reach the last 10% of the trace: no ratio');
    return false;
  }
  const row = (label: string, t: Tenth, note: string) => [
    label,
    int.format(t.rate),
    perChange(t.ms, t, 'µs'),
    perChange(t.cpuMs, t, 'µs'),
    perChange(t.cpuMs === undefined ? undefined : t.ms - t.cpuMs, t, 'µs'),
    perChange(t.written, t, 'B'),
    '',
    '',
    note,
  ];
  const ratioRow = (label: string, a: Tenth, b: Tenth, note: string) => {
    const ratio = a.rate / b.rate;
    const x = (va: number | undefined, vb: number | undefined) =>
      va === undefined || vb === undefined || vb === 0
        ? '—'
        : `${(va / a.changes / (vb / b.changes)).toFixed(2)}×`;
    return {
      met: complete && ratio >= 0.8,
      cells: [
        label,
        `${ratio.toFixed(2)}×`,
        x(a.ms, b.ms),
        x(a.cpuMs, b.cpuMs),
        '',
        x(a.written, b.written),
        'rate ≥ 0.80×',
        complete && ratio >= 0.8 ? 'yes' : 'NO',
        note,
      ],
    };
  };
  const sequential = ratioRow('last / first (b / a)', last, first, 'measured ~10-20 s apart');
  const same = ratioRow(
    'last / first, same window (b / c)',
    last,
    paired,
    complete ? 'the verdict' : '(trace not fully ingested: not comparable)',
  );
  printGrid(
    '',
    [
      '',
      'changes/s',
      'time/change',
      'main-thread CPU',
      'not on CPU',
      'bytes written',
      'target',
      'met',
      '',
    ],
    [
      row('a. first 10% of the trace', first, `${first.txs} tx, at the start`),
      row('b. last 10% of the trace', last, `${last.txs} tx, each followed by one tx of c`),
      row('c. first 10% again, fresh space', paired, `${paired.txs} tx, interleaved with b`),
      sequential.cells,
      same.cells,
    ],
  );
  const tenths = Array.from({ length: 10 }, (_, d) => tenth(ingest, d));
  const line = (label: string, f: (t: Tenth) => string) =>
    console.log(
      `  by tenth of the trace, ${label}: ${tenths.map((t) => (t ? f(t) : '—')).join(' ')}`,
    );
  line('changes/s', (t) => kRate(t.rate));
  line('main-thread CPU µs/change', (t) =>
    t.cpuMs === undefined ? '—' : ((1000 * t.cpuMs) / t.changes).toFixed(0),
  );
  line('bytes written per change (WAL + checkpoints)', (t) =>
    t.written === undefined ? '—' : int.format(t.written / t.changes),
  );
  console.log(
    '  (time/change = sum of commit times; not on CPU = fsync waits + waiting for a core, the shared-machine noise)',
  );
  return same.met;
}

// ---------------------------------------------------------------- reads

interface Reads {
  baseline: number[];
  cold: number[];
  warm: number[];
  /** Of each warm read, the docToJson part. */
  warmJson: number[];
  /** Cold reads near the head (the newest snapshots' range). */
  headCold: number[];
  headBaseline: number[];
  headFromSnapshot: number;
  fromSnapshot: number;
  fromLog: number;
  warmFromCache: number;
  samples: number;
  seqs: number;
  ms: number;
  firstRead: { cold: number; baseline: number; seq: number };
  mismatches: number;
}

async function branchId(cairn: Cairn): Promise<number> {
  return withOps(cairn, branchIdIn);
}

async function branchIdIn(ops: SpaceReadOps): Promise<number> {
  const b = await ops.getBranch(DOC, BRANCH);
  if (!b) throw new Error('the bench doc has no main branch');
  return b.id;
}

async function withOps<T>(cairn: Cairn, fn: (ops: SpaceReadOps) => Promise<T>): Promise<T> {
  const lease = await cairn.backend.acquireSpace(SPACE, { create: false });
  if (!lease) throw new Error('the bench space does not exist');
  try {
    return await fn(lease.store.reader);
  } finally {
    lease.release();
  }
}

/** Baseline: `Automerge.load()` of the saved state + `toJS`; returns ms, text and heads. */
function baselineRead(saved: Uint8Array): { ms: number; text: unknown; heads: string[] } {
  const t0 = nowMs();
  const doc = Automerge.load<{ text: string }>(saved);
  const value = Automerge.toJS(doc);
  const ms = nowMs() - t0;
  const heads = Automerge.getHeads(doc);
  Automerge.free(doc);
  return { ms, text: value.text, heads };
}

interface CairnRead {
  ms: number;
  /** Of which docToJson. */
  jsonMs: number;
  text: unknown;
  heads: string[];
}

async function cairnRead(reader: DocReader, seq: number): Promise<CairnRead> {
  const t0 = nowMs();
  const v = await reader.readDoc(SPACE, DOC, BRANCH, { kind: 'seq', seq });
  const t1 = nowMs();
  const value = v.json();
  const ms = nowMs() - t0;
  const jsonMs = nowMs() - t1;
  const text = value && typeof value === 'object' && !Array.isArray(value) ? value.text : undefined;
  return { ms, jsonMs, text, heads: v.heads };
}

async function runReads(
  cairn: Cairn,
  replay: Replay,
  readable: number,
  samples: number[],
  headSeqs: number[],
  o: HistoryOptions,
): Promise<Reads> {
  const n = readable;
  const cacheBytes = cairn.limits.materializedCacheBytes;
  const workers = new KindWorkers('bench-reads', silentLogger);
  const out: Reads = {
    baseline: [],
    cold: [],
    warm: [],
    warmJson: [],
    headCold: [],
    headBaseline: [],
    headFromSnapshot: 0,
    fromSnapshot: 0,
    fromLog: 0,
    warmFromCache: 0,
    samples: 0,
    seqs: 0,
    ms: 0,
    firstRead: { cold: 0, baseline: 0, seq: 0 },
    mismatches: 0,
  };
  const check = (seq: number, r: CairnRead, base: { text: unknown; heads: string[] }) => {
    const want = hashOf(replay.changes[seq - 1] as Uint8Array);
    const ok =
      r.text === base.text &&
      r.heads.length === 1 &&
      r.heads[0] === want &&
      base.heads.length === 1 &&
      base.heads[0] === want;
    if (!ok) out.mismatches++;
  };
  /** One sample: baseline, cold (fresh reader), warm (same reader again); order rotated. */
  const sample = async (seq: number, rotate: boolean) => {
    const saved = replay.savedAt.get(seq);
    if (!saved) throw new Error(`no saved state for seq ${seq}`);
    // A fresh reader (empty caches) on the shared read worker: its builds start cold.
    const cache = new DocCache(cacheBytes);
    const reader = new DocReader(cairn.backend, { cache, workers });
    let base: ReturnType<typeof baselineRead> | undefined;
    if (rotate) base = baselineRead(saved);
    const cold = await cairnRead(reader, seq);
    const warm = await cairnRead(reader, seq);
    base ??= baselineRead(saved);
    check(seq, cold, base);
    check(seq, warm, base);
    return {
      base: base.ms,
      cold: cold.ms,
      warm: warm.ms,
      warmJson: warm.jsonMs,
      stats: reader.stats,
    };
  };

  // The process's first large read, untimed (reported): JIT and WebAssembly warm-up.
  // Only seqs that were committed and have a saved baseline state are read.
  const canRead = (seq: number) => seq >= 1 && seq <= n && replay.savedAt.has(seq);
  const mid = samples.find(canRead);
  if (mid !== undefined) {
    const first = await sample(mid, false);
    out.firstRead = { cold: first.cold, baseline: first.base, seq: mid };
  }

  const start = nowMs();
  const deadline = start + o.readSeconds * 1000;
  const seen = new Set<number>();
  for (let i = 0; i < samples.length && nowMs() < deadline; i++) {
    const seq = samples[i] as number;
    if (!canRead(seq)) continue;
    const s = await sample(seq, i % 2 === 1);
    out.baseline.push(s.base);
    out.cold.push(s.cold);
    out.warm.push(s.warm);
    out.warmJson.push(s.warmJson);
    out.fromSnapshot += s.stats.fromSnapshot;
    out.fromLog += s.stats.fromLog;
    out.warmFromCache += s.stats.fromCache;
    out.samples++;
    seen.add(seq);
  }
  out.seqs = seen.size;
  out.ms = nowMs() - start;

  // Near the head, where the kept snapshots are: the snapshot path of a cold read.
  for (const seq of headSeqs) {
    if (!canRead(seq)) continue;
    const s = await sample(seq, false);
    out.headCold.push(s.cold);
    out.headBaseline.push(s.base);
    out.headFromSnapshot += s.stats.fromSnapshot;
  }
  await workers.close();
  return out;
}

function printReads(r: Reads, o: HistoryOptions): boolean {
  const base = summarize(r.baseline);
  const cold = summarize(r.cold);
  const warm = summarize(r.warm);
  const coldRatio = cold.p50 / base.p50;
  const coldMet = coldRatio <= 1.5;
  const warmMet = warm.p50 <= 5;
  const row = (
    label: string,
    s: Summary,
    target: string,
    met: boolean | undefined,
    note: string,
  ) => [
    label,
    fmtMs(s.p50),
    fmtMs(s.p99),
    fmtMs(s.max),
    target,
    met === undefined ? '' : met ? 'yes' : 'NO',
    note,
  ];
  console.log(
    `  point-in-time reads: ${r.samples} samples (${r.seqs} distinct seqs, seeded uniform over the history) in ` +
      `${(r.ms / 1000).toFixed(0)}s (cap ${o.reads} samples / ${o.readSeconds}s); each sample: baseline, ` +
      'cold, warm, baseline/cold order alternated',
  );
  printGrid(
    '',
    ['', 'p50', 'p99', 'max', 'target', 'met', ''],
    [
      row(
        'baseline: Automerge.load(save(state)) + toJS',
        base,
        '',
        undefined,
        'state saved untimed at each seq during generation; heads checked',
      ),
      row(
        'cold: fresh DocReader, readDoc + docToJson',
        cold,
        `p50 ≤ 1.5× load`,
        coldMet,
        `p50 = ${coldRatio.toFixed(2)}× load p50; from log ${r.fromLog}, from snapshot ${r.fromSnapshot}`,
      ),
      row(
        'warm: same seq again, cached',
        warm,
        'p50 ≤ 5 ms',
        warmMet,
        `from cache ${r.warmFromCache}/${r.samples}; of which docToJson p50 ${fmtMs(summarize(r.warmJson).p50)}`,
      ),
    ],
  );
  const head = summarize(r.headCold);
  const headBase = summarize(r.headBaseline);
  console.log(
    `  near the head (seqs n-300, n-100, n, ${r.headFromSnapshot}/${r.headCold.length} from a snapshot): ` +
      `cold p50 ${fmtMs(head.p50)} vs load p50 ${fmtMs(headBase.p50)} = ${(head.p50 / headBase.p50).toFixed(2)}×; ` +
      `first read of the process (seq ${int.format(r.firstRead.seq)}, untimed): cold ${fmtMs(r.firstRead.cold)}, ` +
      `load ${fmtMs(r.firstRead.baseline)}`,
  );
  if (r.mismatches > 0) {
    console.log(`  WARNING: ${r.mismatches} reads differ from the baseline (text or heads)`);
  }
  return coldMet && warmMet && r.mismatches === 0;
}

/**
 * Where a cold read's time goes, stage by stage, at a few seqs: the same
 * steps as DocReader.materializeAt, timed one by one (untimed in the table).
 */
async function printStages(
  cairn: Cairn,
  replay: Replay,
  readable: number,
  logSeqs: number[],
  headSeq: number,
): Promise<void> {
  const branch = await branchId(cairn);
  const lines: string[] = [];
  await withOps(cairn, async (ops) => {
    for (const seq of [...logSeqs, headSeq]) {
      const saved = replay.savedAt.get(seq);
      if (seq > readable || seq < 1 || !saved) continue;
      const snap = (await ops.listSnapshots(branch)).find((s) => s.seq <= seq);
      let t = nowMs();
      const lap = () => {
        const now = nowMs();
        const ms = now - t;
        t = now;
        return ms;
      };
      const parts: string[] = [];
      let doc: Automerge.Doc<unknown>;
      if (snap) {
        const bytes = await ops.readSnapshotBytes(snap.id);
        const tail = await ops.readBranchBytes(branch, snap.seq + 1, seq);
        parts.push(`DB snapshot ${mb(snap.size)} + ${tail.length} rows ${fmtMs(lap())}`);
        const loaded = loadDoc(bytes as Uint8Array);
        parts.push(`load snapshot ${fmtMs(lap())}`);
        doc = Automerge.clone(loaded);
        parts.push(`clone ${fmtMs(lap())}`);
        if (tail.length > 0) doc = Automerge.loadIncremental(doc, Buffer.concat(tail));
        parts.push(`loadIncremental tail ${fmtMs(lap())}`);
        Automerge.free(loaded);
      } else {
        const tail = await ops.readBranchBytes(branch, 1, seq);
        parts.push(`DB read ${int.format(tail.length)} rows ${fmtMs(lap())}`);
        doc = materialize(tail);
        parts.push(`Automerge loadIncremental ${fmtMs(lap())}`);
      }
      docToJson(doc);
      parts.push(`docToJson ${fmtMs(lap())}`);
      Automerge.free(doc);
      const base = baselineRead(saved);
      const where = snap ? `snapshot @${int.format(snap.seq)} + tail` : 'whole log';
      lines.push(
        `    seq ${int.format(seq)} (${where}): ${parts.join(' · ')} | baseline load+toJS ${fmtMs(base.ms)}`,
      );
    }
  });
  console.log('  cold read stages (one run each):');
  for (const l of lines) console.log(l);
}

// ---------------------------------------------------------------- disk

function printDisk(dataDir: string, changes: number, finalSave: Uint8Array): void {
  const file = path.join(dataDir, SPACES_DIR, spaceFileName(SPACE));
  const db = new Database(file);
  try {
    const [ck] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    const main = size(file);
    const wal = size(`${file}-wal`);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const free = (db.pragma('freelist_count', { simple: true }) as number) * pageSize;
    const byName = new Map<string, number>();
    for (const r of db
      .prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name')
      .all() as { name: string; bytes: number }[]) {
      byName.set(r.name, r.bytes);
    }
    const snaps = db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM snapshots')
      .get() as { n: number; bytes: number };
    const log = db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(bytes)), 0) AS bytes FROM log')
      .get() as { n: number; bytes: number };
    const tx = db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM tx')
      .get() as { n: number; bytes: number };
    const take = (...names: string[]) => {
      let sum = 0;
      for (const name of names) {
        sum += byName.get(name) ?? 0;
        byName.delete(name);
      }
      return sum;
    };
    const logPages = take('log');
    const hashIndex = take('log_by_hash');
    const txPages = take('tx');
    const snapPages = take('snapshots', 'snapshots_by_branch');
    const other = [...byName.values()].reduce((a, b) => a + b, 0);
    const pct = (b: number) => `${((100 * b) / (main + wal)).toFixed(0)}%`;
    const save = finalSave.byteLength;
    const onDisk = main + wal;
    console.log(
      `  bytes on disk (engine closed, then wal_checkpoint(TRUNCATE)${ck?.busy ? ' BUSY' : ''}): ` +
        `space file ${mb(main)} + wal ${mb(wal)} = ${(onDisk / changes).toFixed(1)} B/change ` +
        `(${int.format(changes)} changes); Automerge.save() of the final doc ${mb(save)} = ` +
        `${(save / changes).toFixed(2)} B/change (file = ${(onDisk / save).toFixed(0)}× save)`,
    );
    console.log(
      `    log table ${mb(logPages)} (${pct(logPages)}; change bytes ${mb(log.bytes)} in ${int.format(log.n)} rows = ` +
        `${(log.bytes / Math.max(1, log.n)).toFixed(0)} B/change) · log_by_hash ${mb(hashIndex)} (${pct(hashIndex)}) · ` +
        `tx records ${mb(txPages)} (${pct(txPages)}; bodies ${mb(tx.bytes)} in ${int.format(tx.n)} tx) · ` +
        `snapshots ${mb(snapPages)} (${pct(snapPages)}; ${snaps.n} kept, sum of sizes ${mb(snaps.bytes)}) · ` +
        `free pages ${mb(free)} · other ${mb(other)}`,
    );
  } finally {
    db.close();
  }
}
