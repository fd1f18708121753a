import { newLatencyHistogram, recordMs, type Histogram } from './histogram.js';
import { Recorder, type Outcome } from './recorder.js';

/**
 * An outcome that follows from an operation but ends on its own clock (e.g.
 * a subscriber receiving a committed edit): recorded as a row of its own,
 * with the latency from the operation's intended start to `doneMs`.
 */
export interface Derived {
  op: string;
  /** When it ended (performance.now() ms). */
  doneMs: number;
  outcome: Outcome;
}

/** One operation, started: its name and how it ends (never rejects). */
export interface Started {
  op: string;
  done: Promise<Outcome>;
  /**
   * Outcomes that follow from it (optional; must settle in bounded time):
   * each is recorded under its own op with this operation's intended start,
   * and the drain waits for them too.
   */
  derived?: Promise<readonly Derived[]>;
}

export interface OpenLoopOptions {
  /** Operations per second, all ops together, on a fixed schedule. */
  ratePerSecond: number;
  /** Seconds run at the same rate before the measured window (not recorded). */
  warmupSeconds: number;
  /** The measured window. */
  seconds: number;
  /** Starts slot `n`'s operation; must not throw (failures are outcomes). */
  start(slot: number): Started;
  /** Stops the schedule early (what was started is still awaited). */
  signal?: AbortSignal;
  /** Called once, as the first slot of the measured window starts. */
  onWindowStart?: () => void;
  /** Interval of the per-interval stats, ms (default 1 s; longer past 120 s). */
  intervalMs?: number;
}

export interface OpenLoopState {
  phase: 'warmup' | 'measure' | 'drain' | 'done';
  /** Seconds since the first intended start. */
  elapsedSeconds: number;
  started: number;
  finished: number;
  inFlight: number;
  unexpected: number;
}

export interface OpenLoopResult {
  recorder: Recorder;
  /** How late each start was against its intended time (the generator's own lag). */
  dispatchLag: Histogram;
  windowStartMs: number;
  windowEndMs: number;
  /** Slots started in the measured window, and how many were planned. */
  measuredSlots: number;
  plannedSlots: number;
  aborted: boolean;
  state: OpenLoopState;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * The open loop: slot n is meant to start at t0 + n / rate, whatever happened
 * to the slots before it. Each operation's latency runs from its intended
 * start to its answer, so a server (or a generator) that stalls shows as
 * latency — never as fewer requests (no coordinated omission). Bounded:
 * (warmup + seconds) × rate slots, then the operations in flight are awaited
 * (each has its own timeout).
 */
export async function runOpenLoop(
  o: OpenLoopOptions,
  onState?: (s: OpenLoopState, r: Recorder) => void,
): Promise<OpenLoopResult> {
  const interval = 1000 / o.ratePerSecond;
  const warmupSlots = Math.round(o.warmupSeconds * o.ratePerSecond);
  const plannedSlots = Math.round(o.seconds * o.ratePerSecond);
  const total = warmupSlots + plannedSlots;
  // At most 120 intervals (a long run gets longer ones): memory stays bounded.
  const intervalMs = o.intervalMs ?? Math.max(1, Math.ceil(o.seconds / 120)) * 1000;
  const t0 = performance.now() + 10;
  const windowStartMs = t0 + warmupSlots * interval;
  const windowEndMs = windowStartMs + plannedSlots * interval;
  const recorder = new Recorder(
    windowStartMs,
    intervalMs,
    Math.max(1, Math.ceil((o.seconds * 1000) / intervalMs)),
  );
  const dispatchLag = newLatencyHistogram();
  const state: OpenLoopState = {
    phase: warmupSlots > 0 ? 'warmup' : 'measure',
    elapsedSeconds: 0,
    started: 0,
    finished: 0,
    inFlight: 0,
    unexpected: 0,
  };
  const pending = new Set<Promise<void>>();
  const report = () => {
    state.elapsedSeconds = Math.max(0, (performance.now() - t0) / 1000);
    onState?.(state, recorder);
  };
  const ticker = onState ? setInterval(report, 200) : undefined;

  const fire = (n: number) => {
    const intended = t0 + n * interval;
    const measured = n >= warmupSlots;
    const sent = performance.now();
    let started: Started;
    try {
      started = o.start(n);
    } catch (err) {
      started = { op: 'start', done: Promise.reject(err as Error) };
    }
    const { op } = started;
    const done = started.done.catch((err: unknown): Outcome => ({
      kind: 'error',
      code: 'ClientException',
      detail: String(err),
    }));
    if (measured) {
      recordMs(dispatchLag, sent - intended);
      recorder.intend(op, intended);
    }
    state.started++;
    state.inFlight++;
    const settled = done.then((outcome) => {
      const doneMs = performance.now();
      state.inFlight--;
      state.finished++;
      if (outcome.kind === 'error') state.unexpected++;
      if (measured) recorder.record(op, intended, sent, doneMs, outcome);
      pending.delete(settled);
    });
    pending.add(settled);
    if (started.derived) {
      const derived = started.derived
        .catch((err: unknown): Derived[] => [
          {
            op: `${op}:derived`,
            doneMs: performance.now(),
            outcome: { kind: 'error', code: 'ClientException', detail: String(err) },
          },
        ])
        .then((list) => {
          for (const d of list) {
            if (d.outcome.kind === 'error') state.unexpected++;
            if (!measured) continue;
            recorder.intend(d.op, intended);
            recorder.record(d.op, intended, sent, d.doneMs, d.outcome);
          }
          pending.delete(derived);
        });
      pending.add(derived);
    }
  };

  let n = 0;
  let measuredSlots = 0;
  try {
    while (n < total && !o.signal?.aborted) {
      const now = performance.now();
      while (n < total && t0 + n * interval <= now) {
        if (n === warmupSlots) {
          state.phase = 'measure';
          o.onWindowStart?.();
        }
        if (n >= warmupSlots) measuredSlots++;
        fire(n++);
      }
      if (n < total) await sleep(t0 + n * interval - performance.now());
    }
    state.phase = 'drain';
    report();
    while (pending.size > 0) await Promise.all([...pending]);
    state.phase = 'done';
    report();
  } finally {
    if (ticker) clearInterval(ticker);
  }
  // Cut short: the window ends at the last slot started.
  const endMs = n < total ? Math.max(windowStartMs, t0 + n * interval) : windowEndMs;
  return {
    recorder,
    dispatchLag,
    windowStartMs,
    windowEndMs: endMs,
    measuredSlots,
    plannedSlots,
    aborted: o.signal?.aborted === true,
    state,
  };
}
