import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { withSpaceReader } from '../../src/storage/space-access.js';
import { SPACE } from '../helpers/engine.js';
import { LiveHarness } from '../helpers/live-server.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';
import { loadTrace, traceFile, TRACE_MISSING } from '../helpers/trace-data.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * SPEC §11 under a real editing history: the automerge-paper trace (259,778
 * keystrokes) replayed as Y.Text edits through one stock y-websocket provider
 * over a real socket, on the backend under test. The stored state ends at the
 * trace's endContent — before and after a forced checkpoint, and after a
 * restart — and point-in-time reads at seeded epochs (spread over the whole
 * replay, so most start from a checkpoint and add journal rows after it)
 * return exactly the text the client had then.
 *
 * The trace's txns are applied TXNS_PER_BATCH at a time inside one
 * `doc.transact`, so the provider sends one update per batch (~1,300 updates,
 * not 260k). Every wait is bounded (15 s) and fails with what it waited for.
 */

/** The sequential trace format (../shared/data/traces/ATTRIBUTION.md). */
interface SequentialTrace {
  startContent: string;
  endContent: string;
  txns: { time: string; patches: [number, number, string][] }[];
}

const DOC = 'papers/automerge';
const ROOT = 'content';
/** Trace txns per `doc.transact`: one provider update (one journal row) each. */
const TXNS_PER_BATCH = 200;
/** Every this many batches the replay waits until the server has committed all it sent. */
const CATCH_UP_EVERY = 50;
/** Point-in-time reads checked: one seeded batch in each of this many equal slices of the replay. */
const SAMPLES = 20;
/** A checkpoint every 100 updates (default 500), all kept: reads at old epochs cross checkpoints. */
const YJS_LIMITS = { compactAfterUpdates: 100, keepCheckpoints: 1000 };
const WAIT_MS = 15_000;

const file = traceFile('automerge-paper');
if (!file) console.warn(TRACE_MISSING);

const harness = new LiveHarness();

/** Code point position → UTF-16 index in `s` (Y.Text indexes are UTF-16 code units). */
function utf16Index(s: string, codePoints: number): number {
  let i = 0;
  for (let n = 0; n < codePoints && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return i;
}

/** Polls `check` until it holds (bounded; the error names what it waited for). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after 15 s waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rejects with `what` if `promise` takes longer than 15 s. */
async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after 15 s: ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether state vector `have` holds everything `want` does. */
function covers(have: Map<number, number>, want: Map<number, number>): boolean {
  for (const [client, clock] of want) if ((have.get(client) ?? 0) < clock) return false;
  return true;
}

interface StoredState {
  text: string;
  epoch: number;
  stateVector: Map<number, number>;
}

/**
 * `GET /v1/:space/yjs/:docId[?epoch=]`: the stored state as one update, applied to a fresh doc
 * (undefined when `missingOk` and the doc does not exist yet: 404).
 */
async function readState(url: string, epoch?: number): Promise<StoredState>;
async function readState(
  url: string,
  epoch: undefined,
  missingOk: true,
): Promise<StoredState | undefined>;
async function readState(url: string, epoch?: number, missingOk = false) {
  const query = epoch === undefined ? '' : `?epoch=${epoch}`;
  const res = await fetch(`${url}/v1/${SPACE}/yjs/${encodeURIComponent(DOC)}${query}`);
  if (res.status === 404 && missingOk) return undefined;
  if (res.status !== 200) throw new Error(`GET state${query}: ${res.status} ${await res.text()}`);
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()));
    const sv = Buffer.from(res.headers.get('x-cairn-state-vector') ?? '', 'base64');
    return {
      text: doc.getText(ROOT).toString(),
      epoch: Number(res.headers.get('x-cairn-epoch')),
      stateVector: Y.decodeStateVector(new Uint8Array(sv)),
    };
  } finally {
    doc.destroy();
  }
}

async function getJson<T>(url: string, path: string): Promise<T> {
  const res = await fetch(`${url}/v1/${SPACE}/yjs/${encodeURIComponent(DOC)}${path}`);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The epoch of the doc's newest commit, from its history. */
async function newestEpoch(url: string): Promise<number> {
  const page = await getJson<{ items: { epoch: number; kind: string }[] }>(url, '/history?limit=1');
  const [item] = page.items;
  if (!item) throw new Error('the doc has no history');
  return item.epoch;
}

/**
 * Waits until the stored state holds everything `doc` has; that state. The state vector
 * alone does not tell (a batch of only deletions leaves it as it was), so the text must
 * match too: the only writer's updates commit in order, so a stored state with the
 * client's state vector and text is the one after the client's last update.
 */
async function caughtUp(url: string, doc: Y.Doc, what: string): Promise<StoredState> {
  const want = Y.decodeStateVector(Y.encodeStateVector(doc));
  const text = doc.getText(ROOT).toString();
  let state: StoredState | undefined;
  await eventually(async () => {
    state = await readState(url, undefined, true);
    return state !== undefined && covers(state.stateVector, want) && state.text === text;
  }, `the server commits ${what}`);
  return state as StoredState;
}

/** One seeded batch per slice of `1..batches`, ascending. */
function sampleBatches(random: SeededRandom, batches: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const lo = Math.floor((s * batches) / SAMPLES) + 1;
    const hi = Math.floor(((s + 1) * batches) / SAMPLES);
    out.push(lo + random.int(hi - lo + 1));
  }
  return out;
}

describe('automerge-paper trace through a y-websocket provider', () => {
  it.skipIf(!file)(
    'ends at endContent in the provider and in storage, also after a forced checkpoint and a restart; reads at 20 seeded epochs return the text the client had then',
    async () => {
      const started = performance.now();
      const seed = testSeed();
      const random = new SeededRandom(seed);
      const trace = loadTrace<SequentialTrace>(file as string);
      const { txns } = trace;
      expect(txns.length).toBeGreaterThan(0);
      // Positions are code points; they differ from Y.Text's UTF-16 indexes only
      // if some text outside the BMP is ever inserted.
      const nonBmp = /[\u{10000}-\u{10FFFF}]/u;
      const needsConversion =
        nonBmp.test(trace.startContent) ||
        nonBmp.test(trace.endContent) ||
        txns.some((t) => t.patches.some((p) => nonBmp.test(p[2])));
      const batches = Math.ceil(txns.length / TXNS_PER_BATCH);
      const sampled = sampleBatches(random, batches);
      const sampleSet = new Set(sampled);

      const { e, url } = await harness.start({ yjs: YJS_LIMITS });
      const client = harness.track(connectProvider(url, SPACE, DOC));
      await synced(client.provider);
      const text = client.doc.getText(ROOT);

      /** What the client had after each sampled batch, and the epoch its update got. */
      const points: { batch: number; epoch: number; text: string }[] = [];
      const replayStarted = performance.now();
      let catchUps = 0;
      for (let batch = 1; batch <= batches; batch++) {
        const from = (batch - 1) * TXNS_PER_BATCH;
        client.doc.transact(() => {
          if (batch === 1 && trace.startContent !== '') text.insert(0, trace.startContent);
          for (const txn of txns.slice(from, from + TXNS_PER_BATCH)) {
            for (const [pos, del, ins] of txn.patches) {
              const at = needsConversion ? utf16Index(text.toString(), pos) : pos;
              if (del > 0) {
                const end = needsConversion ? utf16Index(text.toString(), pos + del) : pos + del;
                text.delete(at, end - at);
              }
              if (ins !== '') text.insert(at, ins);
            }
          }
        });
        if (!sampleSet.has(batch) && batch % CATCH_UP_EVERY !== 0 && batch !== batches) continue;
        catchUps++;
        const stored = await caughtUp(url, client.doc, `batch ${batch} of ${batches}`);
        // Compactions owed so far run now, so checkpoints sit at known places in the replay.
        await bounded(e.cairn.yjs.compactor.idle(), `compaction after batch ${batch}`);
        if (!sampleSet.has(batch)) continue;
        const epoch = await newestEpoch(url);
        expect(
          stored.epoch,
          `seed ${seed}: batch ${batch}: state and history agree on the newest epoch`,
        ).toBe(epoch);
        points.push({ batch, epoch, text: text.toString() });
      }
      const replayMs = performance.now() - replayStarted;

      // The provider's doc and the stored state end at the trace's endContent.
      expect(text.toString() === trace.endContent, 'the provider ends at endContent').toBe(true);
      const final = await caughtUp(url, client.doc, 'the whole trace');
      expect(final.text === trace.endContent, 'the stored state is endContent').toBe(true);
      const lastEpoch = await newestEpoch(url);
      expect(final.epoch).toBe(lastEpoch);

      // One journal row per provider update (one per transact), in the order sent.
      const journal = await withSpaceReader(e.cairn.backend, SPACE, (ops) =>
        ops.yjs.journal(DOC, 0, Number.MAX_SAFE_INTEGER, batches + 10),
      );
      expect(journal.length).toBe(batches);
      for (const p of points) {
        expect(journal[p.batch - 1]?.epoch, `seed ${seed}: batch ${p.batch}'s row`).toBe(p.epoch);
      }

      // Compaction ran during the replay (every 100 updates here); force one more now.
      const compactor = e.cairn.yjs.compactor;
      await bounded(compactor.idle(), 'compaction after the replay');
      const auto = compactor.stats.checkpoints;
      expect(auto).toBeGreaterThan(0);
      expect(compactor.stats.failures).toBe(0);
      const forced = await bounded(compactor.compactNow(SPACE, DOC), 'the forced checkpoint');
      expect(forced.epoch).toBe(lastEpoch);
      const checkpoints = await withSpaceReader(e.cairn.backend, SPACE, (ops) =>
        ops.yjs.checkpoints(DOC),
      );
      expect(checkpoints.length).toBe(auto + 1);
      expect(Math.max(...checkpoints.map((c) => c.epoch))).toBe(lastEpoch);
      const afterCompaction = await readState(url);
      expect(afterCompaction.text === trace.endContent, 'endContent after the checkpoint').toBe(
        true,
      );
      expect(afterCompaction.epoch).toBe(lastEpoch);

      // Point-in-time reads: exactly the client's text at each sampled epoch.
      const cpEpochs = checkpoints.map((c) => c.epoch);
      const fromCheckpoint = points.filter((p) => cpEpochs.some((c) => c <= p.epoch)).length;
      const plusJournal = points.filter((p) => {
        const base = Math.max(0, ...cpEpochs.filter((c) => c <= p.epoch));
        return base > 0 && base < p.epoch;
      }).length;
      const checkPoints = async (base: string, when: string) => {
        for (const [i, p] of points.entries()) {
          const at = await readState(base, p.epoch);
          const why = `seed ${seed} ${when}: batch ${p.batch} at epoch ${p.epoch}`;
          expect(at.epoch, why).toBe(p.epoch);
          expect(at.text === p.text, `${why}: text (${at.text.length} vs ${p.text.length})`).toBe(
            true,
          );
          if (i % 5 !== 0) continue;
          const json = await getJson<{ epoch: number; value: { content: string } }>(
            base,
            `/json?roots=${ROOT}:text&epoch=${p.epoch}`,
          );
          expect(json.epoch, why).toBe(p.epoch);
          expect(json.value.content === p.text, `${why}: json`).toBe(true);
        }
      };
      await checkPoints(url, 'before the restart');
      // One seeded batch in each twentieth of the replay, and a checkpoint by batch 100 at the
      // latest: all but the first two samples read from a checkpoint.
      expect(fromCheckpoint, `seed ${seed}: reads that start from a checkpoint`).toBeGreaterThan(
        SAMPLES - 3,
      );

      // Restart: the state, the checkpoints and every point-in-time read are kept.
      client.close();
      await harness.stopServer();
      const restartStarted = performance.now();
      await harness.engine!.reopen();
      const again = await harness.serve();
      const restarted = await readState(again);
      expect(restarted.text === trace.endContent, 'endContent after the restart').toBe(true);
      expect(restarted.epoch).toBe(lastEpoch);
      await checkPoints(again, 'after the restart');
      const fresh = harness.track(connectProvider(again, SPACE, DOC));
      await synced(fresh.provider);
      await until(
        () => fresh.doc.getText(ROOT).toString() === trace.endContent,
        'a new provider receives endContent after the restart',
      );
      const restartMs = performance.now() - restartStarted;

      console.log(
        `yjs-trace: ${txns.length} edits in ${batches} updates (${TXNS_PER_BATCH}/transact), ` +
          `replay ${(replayMs / 1000).toFixed(1)} s with ${catchUps} catch-ups, ` +
          `${auto} checkpoints + 1 forced, epochs 1..${lastEpoch}, ` +
          `${points.length} point-in-time reads (${fromCheckpoint} from a checkpoint, ` +
          `${plusJournal} of them plus journal rows), restart + reads ${(restartMs / 1000).toFixed(1)} s, ` +
          `total ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed}`,
      );
    },
    120_000,
  );
});
