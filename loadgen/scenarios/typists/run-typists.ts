import { fork, type ChildProcess } from 'node:child_process';
import * as A from '@automerge/automerge';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { procCpuMs } from '../../../bench/lib/proc.js';
import { mergeHistograms, type Histogram } from '../../lib/histogram.js';
import type { DriverArgs, DriverMessage, DriverResult } from './driver-messages.js';
import {
  wallNowMs,
  windowCount,
  type DocPlan,
  type SchedulePlan,
  type TargetKind,
} from './schedule.js';

const READY_TIMEOUT_MS = 150_000;
/** Past the schedule: the drivers' own drain (10 s) plus margin. */
const RESULT_MARGIN_MS = 40_000;
/** Between everyone ready and keystroke 0: the start message reaches every process. */
const START_DELAY_MS = 1_000;
const EXIT_WAIT_MS = 5_000;

export interface TypistRunOptions {
  kind: TargetKind;
  /** cairn: its http URL; peers: their ws URL. */
  url: string;
  /** The server process, for its CPU per window. */
  serverPid: number | undefined;
  space: string;
  docs: DocPlan[];
  processes: number;
  charsPerSecond: number;
  warmupMs: number;
  measureMs: number;
  windowMs: number;
  random: () => number;
  onProgress?: (text: string) => void;
}

/** One measured window, every typist process together. */
export interface TypistWindow {
  /** Delivery: the keystroke's frame reached the other typist. */
  latency: Histogram;
  /** Visible: the keystroke is in the other typist's local doc. */
  visible: Histogram;
  sendLag: Histogram;
  received: number;
  expected: number;
  keystrokes: number;
  /** % of one core over the window. */
  serverCpuPct: number;
  clientCpuPct: number;
}

export interface TypistRunResult {
  windows: TypistWindow[];
  latency: Histogram;
  visible: Histogram;
  sendLag: Histogram;
  received: number;
  expected: number;
  drained: boolean;
  typists: number;
}

/** An Automerge doc starts with its text, made once (concurrent makers would each make their own). */
async function createAutomergeDocs(url: string, space: string, docs: DocPlan[]): Promise<void> {
  for (const d of docs) {
    const doc = A.change(A.init<Record<string, unknown>>(), (x) => {
      x.content = '';
    });
    const change = A.getLastLocalChange(doc) as Uint8Array;
    const body = {
      writes: [
        { docId: d.docId, baseHeads: [], changes: [Buffer.from(change).toString('base64')] },
      ],
    };
    const res = await fetch(`${url}/v1/${space}/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200)
      throw new Error(`creating ${d.docId}: HTTP ${res.status} ${await res.text()}`);
  }
}

function driverArgs(o: TypistRunOptions): DriverArgs[] {
  const all = o.docs.flatMap((d) =>
    Array.from({ length: d.typists }, (_, g) => ({
      docId: d.docId,
      g,
      typists: d.typists,
      phase: d.phase ?? 0,
      cursorAt: o.random(),
    })),
  );
  const per = Array.from({ length: o.processes }, () => [] as DriverArgs['typists']);
  all.forEach((t, i) => per[i % o.processes]?.push(t));
  return per
    .filter((t) => t.length > 0)
    .map((typists) => ({ kind: o.kind, url: o.url, space: o.space, typists }));
}

const driverFile = new URL('./driver.ts', import.meta.url).pathname;
/** Extra Node flags for the typist processes, for diagnosis (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`). */
const driverNodeArgs = (process.env.LOADGEN_TYPIST_NODE_ARGS ?? '').split(' ').filter(Boolean);

function waitFor<T extends DriverMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<DriverMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`typist process: no ${type} in time`)),
      timeoutMs,
    );
    const onMessage = (m: DriverMessage) => {
      if (m.type === 'failed') reject(new Error(`typist process failed: ${m.message}`));
      else if (m.type !== type) return;
      else resolve(m as Extract<DriverMessage, { type: T }>);
      clearTimeout(timer);
      child.off('message', onMessage);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`typist process exited (${code}) before ${type}`));
    });
  });
}

/** Waits (bounded) for a typist process to end by itself (it exits after its result), else kills it. */
async function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((resolve) => c.once('exit', resolve));
  const timer = setTimeout(() => c.kill('SIGKILL'), EXIT_WAIT_MS);
  await gone;
  clearTimeout(timer);
}

/** Server CPU (% of one core) per window, sampled at the window boundaries. */
function sampleServerCpu(pid: number | undefined, p: SchedulePlan): Promise<number[]> {
  const start = p.t0WallMs + p.warmupMs;
  const n = windowCount(p);
  const out: number[] = [];
  return new Promise((resolve) => {
    let last = Number.NaN;
    const at = (w: number) => {
      const cpu = procCpuMs(pid);
      if (w > 0) out.push(((cpu - last) / p.windowMs) * 100);
      last = cpu;
      if (w === n) return resolve(out);
      setTimeout(() => at(w + 1), start + (w + 1) * p.windowMs - wallNowMs());
    };
    setTimeout(() => at(0), start - wallNowMs());
  });
}

/**
 * One run: typists on `docs` against one server, their clients spread over
 * `processes` forked typist processes; merged HDR histograms per window.
 */
export async function runTypists(o: TypistRunOptions): Promise<TypistRunResult> {
  if (o.kind === 'cairn-automerge') await createAutomergeDocs(o.url, o.space, o.docs);
  const children = driverArgs(o).map((a) =>
    fork(driverFile, [JSON.stringify(a)], {
      execArgv: ['--import', 'tsx', ...driverNodeArgs],
      stdio: 'inherit',
    }),
  );
  try {
    o.onProgress?.(`connecting ${o.docs.reduce((n, d) => n + d.typists, 0)} typists…`);
    await Promise.all(children.map((c) => waitFor(c, 'ready', READY_TIMEOUT_MS)));
    const plan: SchedulePlan = {
      t0WallMs: wallNowMs() + START_DELAY_MS,
      charsPerSecond: o.charsPerSecond,
      warmupMs: o.warmupMs,
      measureMs: o.measureMs,
      windowMs: o.windowMs,
    };
    const runMs = START_DELAY_MS + o.warmupMs + o.measureMs;
    const results = children.map((c) => waitFor(c, 'result', runMs + RESULT_MARGIN_MS));
    for (const c of children) c.send({ type: 'start', plan });
    const serverCpu = sampleServerCpu(o.serverPid, plan);
    const ticker = setInterval(() => {
      const s = (wallNowMs() - plan.t0WallMs) / 1000;
      const phase = s < o.warmupMs / 1000 ? 'warmup' : s < runMs / 1000 ? 'measure' : 'drain';
      o.onProgress?.(
        `${phase} ${Math.max(0, s).toFixed(0)}/${((o.warmupMs + o.measureMs) / 1000).toFixed(0)} s`,
      );
    }, 500);
    try {
      return merge(o, plan, await Promise.all(results), await serverCpu);
    } finally {
      clearInterval(ticker);
    }
  } finally {
    await Promise.all(children.map((c) => exited(c)));
  }
}

function merge(
  o: TypistRunOptions,
  p: SchedulePlan,
  rs: DriverResult[],
  serverCpu: number[],
): TypistRunResult {
  // Every doc of a run has the same number of typists: each keystroke is due at the others.
  const receivers = (o.docs[0]?.typists ?? 1) - 1;
  const windows: TypistWindow[] = [];
  for (let w = 0; w < windowCount(p); w++) {
    const rows = rs.map((r) => r.windows[w]).filter((x) => x !== undefined);
    const keystrokes = rows.reduce((n, r) => n + r.keystrokes, 0);
    const lengthMs = Math.min(p.windowMs, p.measureMs - w * p.windowMs);
    windows.push({
      latency: mergeHistograms(rows.map((r) => decodeFromCompressedBase64(r.latency))),
      visible: mergeHistograms(rows.map((r) => decodeFromCompressedBase64(r.visible))),
      sendLag: mergeHistograms(rows.map((r) => decodeFromCompressedBase64(r.sendLag))),
      received: rows.reduce((n, r) => n + r.received, 0),
      expected: keystrokes * receivers,
      keystrokes,
      serverCpuPct: serverCpu[w] ?? Number.NaN,
      clientCpuPct: (rows.reduce((n, r) => n + r.cpuMs, 0) / lengthMs) * 100,
    });
  }
  return {
    windows,
    latency: mergeHistograms(windows.map((w) => w.latency)),
    visible: mergeHistograms(windows.map((w) => w.visible)),
    sendLag: mergeHistograms(windows.map((w) => w.sendLag)),
    received: windows.reduce((n, w) => n + w.received, 0),
    expected: windows.reduce((n, w) => n + w.expected, 0),
    drained: rs.every((r) => r.drained),
    typists: rs.reduce((n, r) => n + r.typists, 0),
  };
}
