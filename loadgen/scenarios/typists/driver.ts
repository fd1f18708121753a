/**
 * A typist process (forked by ./run-typists.ts with IPC): connects its share
 * of the typists, says `ready` once every one holds its doc, then types on
 * the shared schedule (./schedule.ts) it gets with `start`, and records —
 * per measured window — the remote latency of every keystroke of another
 * typist as it becomes visible here (HDR, from the keystroke's intended
 * time), its own send lag (a keystroke sent late because this process was
 * busy: the client, not the server, is the bottleneck), and its own CPU.
 * Ends with one `result` message after every receiver saw every keystroke
 * or the drain bound passed.
 * Argument: a JSON `DriverArgs`.
 */
import {
  encodeHistogram,
  newLatencyHistogram,
  recordMs,
  type Histogram,
} from '../../lib/histogram.js';
import {
  intendedMs,
  keystrokesPerTypist,
  wallNowMs,
  windowCount,
  windowOf,
  type SchedulePlan,
  type TargetKind,
} from './schedule.js';
import { connectTypist, type TypistConn } from './typist-clients.js';
import type { DriverArgs, DriverResult, DriverWindow, ParentMessage } from './driver-messages.js';

const READY_TIMEOUT_MS = 120_000;
const DRAIN_MS = 10_000;
const CONNECTS_PER_TURN = 8;

const args = JSON.parse(process.argv[2] ?? '{}') as DriverArgs;
// Every y-websocket provider adds a process 'exit' listener (to close its
// socket); hundreds of providers in one process are the point here.
process.setMaxListeners(0);
const send = (m: unknown) => process.send?.(m);

interface Local {
  conn: TypistConn;
  docId: string;
  g: number;
  typists: number;
  phase: number;
  /** Highest counter of each other typist of the doc visible in the local doc. */
  seen: number[];
  /** Highest counter of each other typist in a frame that reached this typist. */
  delivered: number[];
}

interface WindowAcc {
  latency: Histogram;
  visible: Histogram;
  sendLag: Histogram;
  received: number;
  keystrokes: number;
  cpuMs: number;
}

let plan: SchedulePlan | undefined;
let windows: WindowAcc[] = [];
let outside = 0;

/**
 * Typist g's counter reached k in this typist's frames (`delivered`) or its
 * local doc (`visible`): every keystroke of g up to k is attributed to now.
 */
function onRemote(l: Local, g: number, k: number, what: 'delivered' | 'visible'): void {
  const now = wallNowMs();
  const last = what === 'visible' ? l.seen : l.delivered;
  const from = (last[g] as number) + 1;
  last[g] = Math.max(last[g] as number, k);
  if (!plan) return;
  for (let kk = from; kk <= k; kk++) {
    const intended = intendedMs(plan, l.typists, g, kk, l.phase);
    const w = windows[windowOf(plan, intended)];
    if (!w) {
      if (what === 'visible') outside++;
      continue;
    }
    if (what === 'delivered') {
      recordMs(w.latency, now - intended);
    } else {
      recordMs(w.visible, now - intended);
      w.received++;
    }
  }
}

async function connectAll(kind: TargetKind): Promise<Local[]> {
  const locals: Local[] = [];
  for (const t of args.typists) {
    const local: Local = {
      docId: t.docId,
      g: t.g,
      typists: t.typists,
      phase: t.phase,
      seen: new Array<number>(t.typists).fill(-1),
      delivered: new Array<number>(t.typists).fill(-1),
    } as Local;
    local.conn = connectTypist({
      kind,
      url: args.url,
      space: args.space,
      docId: t.docId,
      g: t.g,
      typists: t.typists,
      cursorAt: t.cursorAt,
      onRemote: (g, k, what) => onRemote(local, g, k, what),
    });
    locals.push(local);
    // A few connections per turn: a burst of handshakes would time out on a busy server.
    if (locals.length % CONNECTS_PER_TURN === 0) await new Promise((r) => setTimeout(r, 20));
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('typists not ready in 120 s')), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(locals.map((l) => l.conn.ready())), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return locals;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Every keystroke of every local typist, in intended-time order. */
function keystrokes(p: SchedulePlan, locals: Local[]): { at: number; l: Local; k: number }[] {
  const out: { at: number; l: Local; k: number }[] = [];
  const perTypist = keystrokesPerTypist(p);
  for (const l of locals) {
    for (let k = 0; k < perTypist; k++)
      out.push({ at: intendedMs(p, l.typists, l.g, k, l.phase), l, k });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** CPU of this process at each window boundary (a timer per boundary). */
function sampleCpu(p: SchedulePlan): Promise<void> {
  const start = p.t0WallMs + p.warmupMs;
  let last = 0;
  const boundaries = windowCount(p);
  return new Promise((resolve) => {
    const at = (w: number) => {
      const u = process.cpuUsage();
      const cpu = (u.user + u.system) / 1000;
      if (w > 0) (windows[w - 1] as WindowAcc).cpuMs = cpu - last;
      last = cpu;
      if (w === boundaries) return resolve();
      setTimeout(() => at(w + 1), start + (w + 1) * p.windowMs - wallNowMs());
    };
    setTimeout(() => at(0), start - wallNowMs());
  });
}

async function typeAll(p: SchedulePlan, locals: Local[]): Promise<void> {
  const all = keystrokes(p, locals);
  let i = 0;
  while (i < all.length) {
    const now = wallNowMs();
    while (i < all.length && (all[i] as { at: number }).at <= now) {
      const { at, l, k } = all[i++] as { at: number; l: Local; k: number };
      const w = windows[windowOf(p, at)];
      if (w) {
        recordMs(w.sendLag, wallNowMs() - at);
        w.keystrokes++;
      }
      l.conn.type(k);
    }
    if (i < all.length) await sleep((all[i] as { at: number }).at - wallNowMs());
  }
}

async function drain(p: SchedulePlan, locals: Local[]): Promise<boolean> {
  const last = keystrokesPerTypist(p) - 1;
  const deadline = wallNowMs() + DRAIN_MS;
  const done = () => locals.every((l) => l.seen.every((k, g) => g === l.g || k >= last));
  while (!done() && wallNowMs() < deadline) await sleep(50);
  return done();
}

function result(locals: Local[], drained: boolean): DriverResult {
  const rows: DriverWindow[] = windows.map((w) => ({
    latency: encodeHistogram(w.latency),
    visible: encodeHistogram(w.visible),
    sendLag: encodeHistogram(w.sendLag),
    received: w.received,
    keystrokes: w.keystrokes,
    cpuMs: w.cpuMs,
  }));
  return { type: 'result', windows: rows, drained, outside, typists: locals.length };
}

async function main(): Promise<void> {
  const locals = await connectAll(args.kind);
  send({ type: 'ready' });
  const start = await new Promise<SchedulePlan>((resolve) => {
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'start') resolve(m.plan);
    });
  });
  plan = start;
  windows = Array.from({ length: windowCount(start) }, () => ({
    latency: newLatencyHistogram(),
    visible: newLatencyHistogram(),
    sendLag: newLatencyHistogram(),
    received: 0,
    keystrokes: 0,
    cpuMs: 0,
  }));
  const cpu = sampleCpu(start);
  await typeAll(start, locals);
  await cpu;
  const drained = await drain(start, locals);
  for (const l of locals) l.conn.close();
  process.send?.(result(locals, drained), () => process.exit(0));
}

main().catch((err: unknown) => {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  setTimeout(() => process.exit(1), 200).unref();
});
