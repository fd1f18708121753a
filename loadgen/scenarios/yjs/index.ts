import { Option } from 'commander';
import { fmtMs, seededRandom } from '../../../bench/lib/percentiles.js';
import { intIn, numberIn, UsageError } from '../../lib/flags.js';
import type { Scenario, StandaloneContext, TargetCheck } from '../../scenario.js';
import { runAndReport } from '../typists/run-and-report.js';
import type { MatrixRun } from '../typists/run-matrix.js';
import type { TargetKind } from '../typists/schedule.js';
import type { TypistRow } from '../typists/typists-report.js';

/** Connections the generator drives at most (each a provider with its own Y.Doc). */
const MAX_PROVIDERS = 2_000;
const SPACE = 'did:key:z6MkLoadgenYjs';

interface YjsFlags {
  yjsDocs: number;
  providersPerDoc: number;
  yjsCharsPerSecond: number;
  yjsProcesses: number;
  yjsPeers: boolean;
}

function validate(raw: Record<string, unknown>): void {
  const f = raw as unknown as YjsFlags;
  if (f.yjsDocs * f.providersPerDoc > MAX_PROVIDERS) {
    throw new UsageError(
      `--yjs-docs × --providers-per-doc = ${f.yjsDocs * f.providersPerDoc}, over the generator's ${MAX_PROVIDERS} providers`,
    );
  }
}

function runs(f: YjsFlags): MatrixRun[] {
  const targets: TargetKind[] = [
    'cairn-yjs',
    ...(f.yjsPeers ? (['hocuspocus', 'y-websocket'] as const) : []),
  ];
  return targets.map((target) => ({
    target,
    space: SPACE,
    docs: Array.from({ length: f.yjsDocs }, (_, i) => ({
      docId: `${target}-doc-${i}`,
      typists: f.providersPerDoc,
      phase: i / f.yjsDocs,
    })),
  }));
}

function targets(rows: readonly TypistRow[]): TargetCheck[] {
  return rows.map((r) => ({
    name: `${r.target}: every update reached every other provider`,
    target: 'all delivered',
    actual: `${r.delivered.toLocaleString('en-US')}/${r.expected.toLocaleString('en-US')}, p99 ${fmtMs(r.latencyMs.p99)}`,
    met: r.delivered === r.expected,
  }));
}

function run(raw: Record<string, unknown>, ctx: StandaloneContext): Promise<number> {
  const f = raw as unknown as YjsFlags;
  const updatesPerSecond = f.yjsDocs * f.providersPerDoc * f.yjsCharsPerSecond;
  return runAndReport(
    {
      scenario: 'yjs',
      matrix: {
        runs: runs(f),
        processes: f.yjsProcesses,
        charsPerSecond: f.yjsCharsPerSecond,
        random: seededRandom(ctx.seed),
      },
      targets,
      title: (store) =>
        `yjs on ${store}: ${f.yjsDocs} docs × ${f.providersPerDoc} stock y-websocket providers, ` +
        `${f.yjsCharsPerSecond} updates/s each (${updatesPerSecond.toLocaleString('en-US')} updates/s in all), ` +
        `latency from the intended update time to its visibility at every other provider of the doc`,
      report: { flags: f, updatesPerSecond },
    },
    ctx,
  );
}

/** `--scenario yjs`: stock y-websocket providers typing into many shared Yjs docs. */
export const yjsScenario: Scenario = {
  name: 'yjs',
  summary:
    'stock y-websocket providers typing into many shared Yjs docs (every update committed before it is broadcast): ' +
    'delivery latency p50/p99 to every other provider, server CPU per 10 s window, client CPU and send lag; ' +
    'optionally the same load on Hocuspocus and the y-websocket server.',
  options: () => [
    new Option('--yjs-docs <n>', '[yjs] shared docs').argParser(intIn(1, 1000)).default(50),
    new Option('--providers-per-doc <n>', '[yjs] providers typing into each doc')
      .argParser(intIn(2, 64))
      .default(4),
    new Option('--yjs-chars-per-second <n>', '[yjs] updates per second per provider')
      .argParser(numberIn(0.1, 50))
      .default(2),
    new Option('--yjs-processes <n>', '[yjs] processes the providers are spread over')
      .argParser(intIn(1, 16))
      .default(2),
    new Option(
      '--yjs-peers',
      '[yjs] also run the same load on Hocuspocus and the y-websocket server',
    ),
  ],
  validate,
  run,
};
