import * as A from '@automerge/automerge';
import { Option } from 'commander';
import { commonTargets, latencyLine, rowOf } from '../../lib/common-targets.js';
import { intIn, UsageError } from '../../lib/flags.js';
import { errorCodeOf } from '../../lib/http.js';
import { LiveClients } from '../../lib/live-clients.js';
import type { RunSummary } from '../../lib/summary.js';
import { loadEditCorpus, TextEditor, traceFor } from '../../lib/trace-edits.js';
import type { PreparedScenario, Scenario, ScenarioContext, TargetCheck } from '../../scenario.js';
import { RetryCounts } from './retry-counts.js';
import { CONFLICT_OP, HotWriter, type CommitResult } from './writer.js';

const COMMIT_OP = 'commit';
const SPACE = 'did:key:z6MkLoadgenHotDoc';
const DOC_ID = 'hot';
const SETUP_WAIT_MS = 60_000;
/** The actor of the change that creates the doc (never a writer's). */
const CREATOR_ACTOR = 'f'.repeat(32);

interface HotDocFlags {
  hotWriters: number;
  commitRate: number;
  burst: number;
  maxRetries: number;
  warmup: number;
}

function prepare(raw: Record<string, unknown>, ctx: ScenarioContext): PreparedScenario {
  const f = raw as unknown as HotDocFlags;
  const corpus = loadEditCorpus();
  const clients = new LiveClients(ctx.http.baseUrl, ctx.random);
  const path = { space: SPACE, docId: DOC_ID };
  const writers = Array.from(
    { length: f.hotWriters },
    (_, i) =>
      new HotWriter(
        i,
        clients.open(SPACE),
        ctx.http,
        path,
        `w${i}`,
        new TextEditor(traceFor(corpus, i), ctx.random),
        f.maxRetries,
        ctx.random,
      ),
  );
  // A slot is a burst: `burst` writers start an edit at the same intended time.
  const slotRate = f.commitRate / f.burst;
  const warmupSlots = Math.round(f.warmup * slotRate);
  const retries = new RetryCounts();
  return {
    describe:
      `${f.hotWriters} writers on one doc (each a live client subscribed to it), ` +
      `${f.commitRate} commits/s in all, in bursts of ${f.burst} writers starting at the same ` +
      `intended time (${slotRate.toFixed(1)} bursts/s); each an edit with baseHeads = the heads the writer ` +
      `holds (no merge: a stale base is StaleBaseHeads); on a conflict the writer takes the ` +
      `missing changes from its deliveries, else fetches them, redoes the edit and retries ` +
      `(at most ${f.maxRetries}); one commit at a time per writer; ${corpus.describe}`,
    ratePerSecond: slotRate,
    ops: [COMMIT_OP, CONFLICT_OP],
    groups: [],
    async setup() {
      ctx.progress.update(`hot-doc: connecting ${clients.size} writers…`);
      await clients.connected(SETUP_WAIT_MS, ctx.signal);
      const created = A.change(A.init<Record<string, unknown>>({ actor: CREATOR_ACTOR }), (d) => {
        for (const w of writers) d[w.field] = w.editor.text;
      });
      const change = A.getLastLocalChange(created) as Uint8Array;
      const a = await ctx.http.request('POST', `/v1/${SPACE}/tx`, {
        writes: [
          { docId: DOC_ID, baseHeads: [], changes: [Buffer.from(change).toString('base64')] },
        ],
      });
      if (a.status !== 200)
        throw new Error(`hot-doc: creating the doc: ${errorCodeOf(a)} ${a.text}`);
      for (const w of writers) {
        const failed = await w.catchUp();
        if (failed)
          throw new Error(`hot-doc: writer ${w.index} catch-up: ${JSON.stringify(failed)}`);
      }
      ctx.progress.done();
      return { writers: writers.length, editSource: corpus.source };
    },
    start(slot) {
      const count = (r: CommitResult) => {
        if (slot < warmupSlots) return;
        if (r.outcome.kind === 'expected' && r.outcome.code === 'RetriesExhausted') {
          retries.gaveUp++;
        } else if (r.outcome.kind === 'ok') retries.add(r.retries);
      };
      const runs = Array.from({ length: f.burst }, (_, j) =>
        (writers[(slot * f.burst + j) % writers.length] as HotWriter).enqueue().then((r) => {
          count(r);
          return r;
        }),
      );
      const first = runs[0] as Promise<CommitResult>;
      // The burst's first commit is the slot's own row; the others and every conflict are derived.
      const derived = Promise.all(runs).then(([one, ...rest]) => [
        ...(one as CommitResult).conflicts,
        ...rest.flatMap((r) => [
          { op: COMMIT_OP, doneMs: r.doneMs, outcome: r.outcome },
          ...r.conflicts,
        ]),
      ]);
      return { op: COMMIT_OP, done: first.then((r) => r.outcome), derived };
    },
    facts() {
      return { retriesPerCommit: retries.toJSON(), gaveUp: retries.gaveUp };
    },
    async targets(s: RunSummary): Promise<TargetCheck[]> {
      const conflicts = rowOf(s, CONFLICT_OP);
      // Every acknowledged edit is in the doc: each writer's field on the server is its text.
      const a = await ctx.http.request('GET', `/v1/${SPACE}/docs/${DOC_ID}`);
      const value = (a.body as { value?: Record<string, unknown> } | undefined)?.value ?? {};
      const differ = writers.filter((w) => value[w.field] !== w.editor.text).map((w) => w.field);
      return [
        latencyLine(s, COMMIT_OP, 'commit (intended → final commit)'),
        {
          name: 'retries per commit',
          target: '— (measured)',
          actual: retries.describe(),
          met: undefined,
        },
        {
          name: 'conflicts (StaleBaseHeads, expected)',
          target: '— (measured)',
          actual: (conflicts?.count ?? 0).toLocaleString('en-US'),
          met: undefined,
        },
        {
          name: `gave up after ${f.maxRetries} retries`,
          target: '0',
          actual: retries.gaveUp.toLocaleString('en-US'),
          met: retries.gaveUp === 0,
        },
        {
          name: 'every acknowledged edit in the doc',
          target: "each writer's field on the server = its committed text",
          actual:
            a.status !== 200
              ? `read failed: ${errorCodeOf(a)}`
              : differ.length
                ? `${differ.length}/${writers.length} differ: ${differ.slice(0, 5).join(', ')}`
                : `${writers.length}/${writers.length} equal`,
          met: a.status === 200 && differ.length === 0,
        },
        ...commonTargets(s),
      ];
    },
    async teardown() {
      clients.closeAll();
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

export const hotDocScenario: Scenario = {
  name: 'hot-doc',
  summary:
    'many writers on ONE Automerge doc, committing in bursts of simultaneous writers, each commit ' +
    'with baseHeads (optimistic concurrency, SPEC §2): ' +
    'StaleBaseHeads → receive or fetch the missing changes, rebase, retry (bounded); latency to the final commit, ' +
    'retries per commit and conflict counts (conflicts are expected outcomes)',
  options: () => [
    new Option('--hot-writers <n>', '[hot-doc] writers on the doc, each its own live client')
      .argParser(intIn(1, 512))
      .default(8),
    new Option('--commit-rate <n>', '[hot-doc] commits per second, every writer together')
      .argParser(intIn(1, 5_000))
      .default(40),
    new Option(
      '--burst <n>',
      '[hot-doc] writers that start an edit at the same intended time (the contention)',
    )
      .argParser(intIn(1, 512))
      .default(4),
    new Option('--max-retries <n>', '[hot-doc] retries of one commit before it gives up')
      .argParser(intIn(0, 1_000))
      .default(20),
  ],
  validate(raw) {
    const f = raw as unknown as HotDocFlags;
    if (f.burst > f.hotWriters) {
      throw new UsageError(`--burst (${f.burst}) must not exceed --hot-writers (${f.hotWriters})`);
    }
  },
  prepare,
};
