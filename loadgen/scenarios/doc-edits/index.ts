import { Option } from 'commander';
import { commonTargets, latencyLine, rowOf } from '../../lib/common-targets.js';
import { intIn, UsageError } from '../../lib/flags.js';
import { LiveClients } from '../../lib/live-clients.js';
import type { RunSummary } from '../../lib/summary.js';
import { loadEditCorpus } from '../../lib/trace-edits.js';
import type { PreparedScenario, Scenario, ScenarioContext, TargetCheck } from '../../scenario.js';
import { DELIVERY_OP } from './deliveries.js';
import {
  COMMIT_OP,
  createDocs,
  divergentSubscribers,
  openDocs,
  startEdit,
  type EditedDoc,
  type Topology,
  type Writer,
} from './docs.js';

/** Live clients one generator process keeps (each a WebSocket with its own Automerge docs). */
const MAX_CLIENTS = 2_000;

interface DocEditsFlags extends Topology {
  editRate: number;
}

const clientsOf = (f: Topology) => f.spaces * f.docsPerSpace * (f.writers + f.subscribersPerDoc);

function validate(raw: Record<string, unknown>): void {
  const n = clientsOf(raw as unknown as DocEditsFlags);
  if (n > MAX_CLIENTS) {
    throw new UsageError(
      `--spaces × --docs-per-space × (--writers + --subscribers-per-doc) = ${n} live clients, over ${MAX_CLIENTS}`,
    );
  }
}

/** Writers in slot order: round-robin over a shuffle, so consecutive edits hit different docs. */
function writerOrder(docs: readonly EditedDoc[], rand: () => number): Writer[] {
  const all = docs.flatMap((d) => d.writers);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j] as Writer, all[i] as Writer];
  }
  return all;
}

function prepare(raw: Record<string, unknown>, ctx: ScenarioContext): PreparedScenario {
  const f = raw as unknown as DocEditsFlags;
  const corpus = loadEditCorpus();
  const clients = new LiveClients(ctx.http.baseUrl, ctx.random);
  const docs = openDocs(f, clients, corpus, ctx.random);
  const order = writerOrder(docs, ctx.random);
  const nDocs = docs.length;
  const perWriter = f.editRate / order.length;
  let setupSeconds = 0;
  return {
    describe:
      `${f.spaces} spaces × ${f.docsPerSpace} docs, ${f.writers} writers + ${f.subscribersPerDoc} ` +
      `subscribers per doc (${clientsOf(f)} live clients, cairn/client over WebSocket), ` +
      `${f.editRate} edits/s in all (${perWriter.toFixed(2)}/s per writer), one trace txn per edit ` +
      `into the writer's own text field; ${corpus.describe}`,
    ratePerSecond: f.editRate,
    ops: [COMMIT_OP, DELIVERY_OP],
    groups: [],
    async setup() {
      const t0 = performance.now();
      await createDocs(docs, clients, ctx.progress, ctx.signal);
      setupSeconds = (performance.now() - t0) / 1000;
      return {
        docs: nDocs,
        liveClients: clients.size,
        editSource: corpus.source,
        setupSeconds,
      };
    },
    start(slot) {
      return startEdit(order[slot % order.length] as Writer);
    },
    facts() {
      const received = docs.reduce(
        (n, d) => n + d.deliveries.watches.reduce((m, w) => m + w.received, 0),
        0,
      );
      return { editSource: corpus.source, deliveriesReceivedInAll: received };
    },
    targets(s: RunSummary): TargetCheck[] {
      const commits = rowOf(s, COMMIT_OP);
      const deliveries = rowOf(s, DELIVERY_OP);
      const wanted = (commits?.intended ?? 0) * f.subscribersPerDoc;
      const { checked, divergent } = divergentSubscribers(docs);
      return [
        latencyLine(s, COMMIT_OP, 'commit (intended → receipt)'),
        latencyLine(s, DELIVERY_OP, 'delivery (intended → in the subscriber doc)'),
        {
          name: 'every edit reached every subscriber',
          target: `${wanted.toLocaleString('en-US')} deliveries (edits × subscribers)`,
          actual: `${(deliveries?.ok ?? 0).toLocaleString('en-US')} received`,
          met: (deliveries?.ok ?? 0) === wanted,
        },
        {
          name: 'subscribers converge',
          target: "each subscriber's doc = every writer's text",
          actual: divergent.length
            ? `${divergent.length}/${checked} differ: ${divergent.slice(0, 3).join('; ')}`
            : `${checked}/${checked} equal`,
          met: divergent.length === 0,
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

export const docEditsScenario: Scenario = {
  name: 'doc-edits',
  summary:
    'Automerge docs in many spaces, each edited by several writers replaying the editing traces ' +
    '(one change per trace txn) through cairn/client over WebSocket, with live subscribers: ' +
    'commit latency (intended → receipt) and delivery latency (intended → in each subscriber doc)',
  options: () => [
    new Option('--spaces <n>', '[doc-edits] spaces').argParser(intIn(1, 500)).default(4),
    new Option('--docs-per-space <n>', '[doc-edits] docs in each space')
      .argParser(intIn(1, 500))
      .default(4),
    new Option('--writers <n>', '[doc-edits] writers per doc, each its own live client')
      .argParser(intIn(1, 64))
      .default(2),
    new Option('--subscribers-per-doc <n>', '[doc-edits] subscribers per doc, each a live client')
      .argParser(intIn(0, 64))
      .default(2),
    new Option('--edit-rate <n>', '[doc-edits] edits per second, every writer together')
      .argParser(intIn(1, 5_000))
      .default(100),
  ],
  validate,
  prepare,
};
