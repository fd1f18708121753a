/**
 * The typists' shared plan, known to the runner and to every typist process
 * alike: typist g of a doc presses key k at its intended time
 * `t0 + phase(g) + k · interval`, whatever happened before (open loop). A
 * receiver that sees typist g's counter jump to k attributes every keystroke
 * up to k to this moment, and measures each from its intended time.
 * Times are wall-clock ms (performance.timeOrigin + performance.now()), the
 * one clock every process on the machine shares.
 */

/** What the servers under test are. */
export type TargetKind = 'cairn-automerge' | 'cairn-yjs' | 'y-websocket' | 'hocuspocus';

/** One doc: its id and how many typists share it (typist g = 0…typists−1). */
export interface DocPlan {
  docId: string;
  typists: number;
  /**
   * In [0, 1): shifts the doc's keystrokes by this fraction of the gap
   * between two of its typists, so many docs do not all type at once.
   */
  phase?: number;
}

export interface SchedulePlan {
  /** Wall-clock ms of keystroke 0 of typist 0. */
  t0WallMs: number;
  charsPerSecond: number;
  warmupMs: number;
  measureMs: number;
  /** Server and client CPU are reported per window of this length. */
  windowMs: number;
}

/** Wall-clock now, sub-millisecond, comparable across processes. */
export const wallNowMs = (): number => performance.timeOrigin + performance.now();

export const keyInterval = (p: SchedulePlan): number => 1000 / p.charsPerSecond;

/** Typists of one doc spread their keystrokes evenly over one interval (docs shifted by `phase`). */
export function intendedMs(
  p: SchedulePlan,
  typists: number,
  g: number,
  k: number,
  phase = 0,
): number {
  const interval = keyInterval(p);
  return p.t0WallMs + ((g + phase) / typists) * interval + k * interval;
}

/** Keystrokes each typist makes (warmup + measured window). */
export function keystrokesPerTypist(p: SchedulePlan): number {
  return Math.ceil(((p.warmupMs + p.measureMs) * p.charsPerSecond) / 1000);
}

/** The measured window a keystroke's intended time falls in, or -1 (warmup or after). */
export function windowOf(p: SchedulePlan, intended: number): number {
  const since = intended - (p.t0WallMs + p.warmupMs);
  if (since < 0 || since >= p.measureMs) return -1;
  return Math.floor(since / p.windowMs);
}

export const windowCount = (p: SchedulePlan): number => Math.ceil(p.measureMs / p.windowMs);

/** The key of typist g's counter in the shared map (Automerge root, Yjs `typists` map). */
export const counterKey = (g: number): string => `t${g}`;

export function typistOfKey(key: string): number | undefined {
  if (!key.startsWith('t')) return undefined;
  const g = Number(key.slice(1));
  return Number.isInteger(g) && g >= 0 ? g : undefined;
}
