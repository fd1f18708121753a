import { Option } from 'commander';
import { seededRandom, fmtMs } from '../../../bench/lib/percentiles.js';
import { intIn, numberIn, UsageError } from '../../lib/flags.js';
import type { Scenario, StandaloneContext, TargetCheck } from '../../scenario.js';
import { runAndReport } from './run-and-report.js';
import type { MatrixRun } from './run-matrix.js';
import type { TargetKind } from './schedule.js';
import { isFlat, type TypistRow } from './typists-report.js';

/** Targets of the issue: Automerge p99 at 16 typists; Yjs p99 at 16 and 32 against the best peer. */
const AUTOMERGE_P99_MS = 50;
const AUTOMERGE_TARGET_TYPISTS = 16;
const YJS_PEER_FACTOR = 1.5;
const YJS_TARGET_TYPISTS = [16, 32];
const MAX_TYPISTS = 128;

interface TypistFlags {
  typists: string;
  docKinds: string;
  peers: boolean;
  charsPerSecond: number;
  typistProcesses: number;
}

function counts(text: string): number[] {
  const n = text.split(',').map((s) => Number(s.trim()));
  if (n.some((x) => !Number.isInteger(x) || x < 2 || x > MAX_TYPISTS)) {
    throw new UsageError(
      `--typists: a comma-separated list of integers 2…${MAX_TYPISTS}, got "${text}"`,
    );
  }
  return n;
}

function kinds(text: string): ('automerge' | 'yjs')[] {
  const k = text.split(',').map((s) => s.trim());
  for (const x of k) {
    if (x !== 'automerge' && x !== 'yjs')
      throw new UsageError(`--doc-kinds: automerge and/or yjs, got "${x}"`);
  }
  return k as ('automerge' | 'yjs')[];
}

function plan(f: TypistFlags): MatrixRun[] {
  const runs: MatrixRun[] = [];
  for (const kind of kinds(f.docKinds)) {
    const targets: TargetKind[] =
      kind === 'automerge'
        ? ['cairn-automerge']
        : ['cairn-yjs', ...(f.peers ? (['hocuspocus', 'y-websocket'] as const) : [])];
    for (const n of counts(f.typists)) {
      for (const target of targets) {
        runs.push({
          target,
          space: `did:key:z6MkTypists${target.replace(/[^a-z]/g, '')}${n}`,
          docs: [{ docId: `doc-${n}`, typists: n }],
        });
      }
    }
  }
  return runs;
}

function row(rows: readonly TypistRow[], target: TargetKind, n: number): TypistRow | undefined {
  return rows.find((r) => r.target === target && r.typistsPerDoc === n);
}

function targets(rows: readonly TypistRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const am = row(rows, 'cairn-automerge', AUTOMERGE_TARGET_TYPISTS);
  if (am) {
    const flat = isFlat(am.serverCpuPctPerWindow);
    out.push({
      name: `Automerge, ${AUTOMERGE_TARGET_TYPISTS} typists: remote p99, server CPU flat`,
      target: `≤ ${AUTOMERGE_P99_MS} ms, flat`,
      actual: `${fmtMs(am.latencyMs.p99)}, CPU ${am.serverCpuPctPerWindow.map((c) => c.toFixed(0)).join('/')}% (${flat ? 'flat' : 'NOT flat'})`,
      met: am.latencyMs.p99 <= AUTOMERGE_P99_MS && flat && am.delivered === am.expected,
    });
  }
  for (const n of YJS_TARGET_TYPISTS) {
    const ours = row(rows, 'cairn-yjs', n);
    const peers = [row(rows, 'hocuspocus', n), row(rows, 'y-websocket', n)].filter(
      (r) => r !== undefined,
    );
    if (!ours || peers.length === 0) continue;
    const best = Math.min(...peers.map((p) => p.latencyMs.p99));
    out.push({
      name: `Yjs, ${n} typists: remote p99 vs the best peer (${peers.map((p) => `${p.target} ${fmtMs(p.latencyMs.p99)}`).join(', ')})`,
      target: `≤ ${YJS_PEER_FACTOR}× ${fmtMs(best)} = ${fmtMs(best * YJS_PEER_FACTOR)}`,
      actual: `${fmtMs(ours.latencyMs.p99)} (${(ours.latencyMs.p99 / best).toFixed(2)}×)`,
      met: ours.latencyMs.p99 <= best * YJS_PEER_FACTOR && ours.delivered === ours.expected,
    });
  }
  return out;
}

function run(raw: Record<string, unknown>, ctx: StandaloneContext): Promise<number> {
  const f = raw as unknown as TypistFlags;
  return runAndReport(
    {
      scenario: 'typists',
      matrix: {
        runs: plan(f),
        processes: f.typistProcesses,
        charsPerSecond: f.charsPerSecond,
        random: seededRandom(ctx.seed),
      },
      targets,
      title: (store) =>
        `typists on ${store}: ${f.charsPerSecond} chars/s each, remote latency from the intended keystroke time to its delivery at every other typist (p50/p99/max: the frame reached it; visible p99: in its local doc) (${ctx.seconds} s measured after ${ctx.warmup} s warm-up)`,
      report: { flags: f },
    },
    ctx,
  );
}

/** `--scenario typists`: N typists at 6 chars/s each on one doc, cairn (Automerge, Yjs) and Yjs peers. */
export const typistsScenario: Scenario = {
  name: 'typists',
  summary:
    'N typists on one doc, one change per keystroke at 6 chars/s each over WebSocket, every typist a subscriber: ' +
    "remote latency p50/p99, server CPU per 10 s window, the typist processes' CPU and send lag; Automerge docs " +
    '(client library) and Yjs docs (stock y-websocket provider) against Hocuspocus and the y-websocket server.',
  options: () => [
    new Option('--typists <list>', '[typists] typists per doc, one run each').default('4,16,32'),
    new Option('--doc-kinds <list>', '[typists] automerge, yjs or both').default('automerge,yjs'),
    new Option('--no-peers', '[typists] Yjs: skip Hocuspocus and the y-websocket server'),
    new Option('--chars-per-second <n>', '[typists] keystrokes per second per typist')
      .argParser(numberIn(0.1, 50))
      .default(6),
    new Option('--typist-processes <n>', '[typists, yjs] processes the clients are spread over')
      .argParser(intIn(1, 16))
      .default(2),
  ],
  validate(raw) {
    const f = raw as unknown as TypistFlags;
    counts(f.typists);
    kinds(f.docKinds);
  },
  run,
};
