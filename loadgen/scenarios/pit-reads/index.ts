import { Option } from 'commander';
import { commonTargets, latencyLine } from '../../lib/common-targets.js';
import { intIn } from '../../lib/flags.js';
import { LiveClients } from '../../lib/live-clients.js';
import type { Outcome } from '../../lib/recorder.js';
import type { RunSummary } from '../../lib/summary.js';
import { loadEditCorpus } from '../../lib/trace-edits.js';
import type { PreparedScenario, Scenario, ScenarioContext, TargetCheck } from '../../scenario.js';
import { buildHistory, type HistoryDoc } from './history.js';
import { waitForSnapshots } from './quiesce.js';
import { DOC_READS, LOG_READS, PitReads, type ReadKind } from './reads.js';

const SPACE = 'did:key:z6MkLoadgenPitReads';
/** Bound of the wait for the server's background snapshots after the history is built. */
const SETTLE_MAX_SECONDS = 60;

/** Shares of the reads: the doc at a version (split evenly over the selectors), then the feeds. */
const MIX: readonly [ReadKind, number][] = [
  ['doc@epoch', 0.175],
  ['doc@seq', 0.175],
  ['doc@at', 0.175],
  ['doc@heads', 0.175],
  ['changes', 0.15],
  ['history', 0.15],
];

interface PitFlags {
  pitDocs: number;
  pitEpochs: number;
  pitChangesPerEpoch: number;
  readRate: number;
  pitSetupSeconds: number;
}

function pickKind(r: number): ReadKind {
  let acc = 0;
  for (const [kind, share] of MIX) if (r < (acc += share)) return kind;
  return 'history';
}

function prepare(raw: Record<string, unknown>, ctx: ScenarioContext): PreparedScenario {
  const f = raw as unknown as PitFlags;
  const corpus = loadEditCorpus();
  const clients = new LiveClients(ctx.http.baseUrl, ctx.random);
  let docs: HistoryDoc[] = [];
  let reads: PitReads | undefined;
  return {
    describe:
      `point-in-time reads at random versions of a ${f.pitEpochs.toLocaleString('en-US')}-epoch ` +
      `history over ${f.pitDocs} docs of one space (${f.pitChangesPerEpoch} changes per epoch, ` +
      `${corpus.describe}), ${f.readRate} reads/s: the doc JSON at a random epoch, seq, instant ` +
      `(at=) or heads (70%), a 100-change page of the log from a random seq (15%), a 100-item page ` +
      `of the history feed at a random depth (15%); every answer checked against the receipts`,
    ratePerSecond: f.readRate,
    ops: [...DOC_READS, ...LOG_READS],
    groups: [
      { name: 'doc reads', ops: DOC_READS },
      { name: 'log reads', ops: LOG_READS },
    ],
    async setup() {
      const built = await buildHistory(
        {
          space: SPACE,
          docs: f.pitDocs,
          epochs: f.pitEpochs,
          changesPerEpoch: f.pitChangesPerEpoch,
          maxSeconds: f.pitSetupSeconds,
        },
        clients,
        ctx.http,
        corpus,
        ctx.random,
        ctx.progress,
        ctx.signal,
      );
      docs = built.docs;
      // The history is built: the live connection is not needed for the reads.
      clients.closeAll();
      const settle = await waitForSnapshots(ctx.http, ctx.progress, SETTLE_MAX_SECONDS, ctx.signal);
      reads = new PitReads(ctx.http, SPACE, docs, ctx.random);
      const epochs = docs.reduce((n, d) => n + d.commits.length, 0);
      return {
        history: {
          epochs,
          changes: built.changes,
          docs: docs.map((d) => ({
            docId: d.docId,
            epochs: d.commits.length,
            seq: d.commits.at(-1)?.seq ?? 0,
            historyPages: d.historyCursors.length + 1,
          })),
          seconds: built.seconds,
          cutShort: built.cutShort,
          editSource: corpus.source,
        },
        serverSnapshots: settle,
      };
    },
    start(slot) {
      const kind = pickKind(ctx.random());
      const done: Promise<Outcome> = reads
        ? reads.read(kind)
        : Promise.resolve({ kind: 'error', code: 'NoHistory', detail: `slot ${slot}` });
      return { op: kind, done };
    },
    facts() {
      return { docs: docs.map((d) => ({ docId: d.docId, epochs: d.commits.length })) };
    },
    targets(s: RunSummary): TargetCheck[] {
      const epochs = docs.reduce((n, d) => n + d.commits.length, 0);
      return [
        {
          name: 'history built',
          target: `${f.pitEpochs.toLocaleString('en-US')} epochs`,
          actual: `${epochs.toLocaleString('en-US')} epochs, ${docs.map((d) => d.commits.at(-1)?.seq ?? 0).join('/')} changes per doc`,
          met: epochs === f.pitEpochs,
        },
        latencyLine(s, 'doc reads', 'doc at a version'),
        latencyLine(s, 'log reads', 'log pages'),
        ...commonTargets(s),
      ];
    },
    async teardown() {
      clients.closeAll();
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

export const pitReadsScenario: Scenario = {
  name: 'pit-reads',
  summary:
    'point-in-time reads of a long history (SPEC §3): setup commits thousands of epochs of trace ' +
    'edits on a few docs over one pipelined live connection, then reads the doc at random ' +
    'versions (epoch=, seq=, at=, heads=) and pages of /changes and /history, each checked',
  options: () => [
    new Option('--pit-docs <n>', '[pit-reads] docs sharing the history')
      .argParser(intIn(1, 100))
      .default(3),
    new Option(
      '--pit-epochs <n>',
      '[pit-reads] commits (epochs) in the history, round-robin over the docs',
    )
      .argParser(intIn(1, 1_000_000))
      .default(3_000),
    new Option('--pit-changes-per-epoch <n>', '[pit-reads] changes (trace txns) per commit')
      .argParser(intIn(1, 1_000))
      .default(10),
    new Option('--read-rate <n>', '[pit-reads] reads per second, every kind together')
      .argParser(intIn(1, 5_000))
      .default(20),
    new Option('--pit-setup-seconds <n>', '[pit-reads] time bound of building the history')
      .argParser(intIn(1, 3_600))
      .default(120),
  ],
  prepare,
};
