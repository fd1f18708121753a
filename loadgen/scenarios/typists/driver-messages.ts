import type { SchedulePlan, TargetKind } from './schedule.js';

/** What a typist process is told to run (its argument, as JSON). */
export interface DriverArgs {
  kind: TargetKind;
  url: string;
  space: string;
  typists: { docId: string; g: number; typists: number; phase: number; cursorAt: number }[];
}

/** Parent → typist process. */
export type ParentMessage = { type: 'start'; plan: SchedulePlan };

/** One measured window as one typist process saw it (histograms: HDR compressed base64, µs). */
export interface DriverWindow {
  /** Intended keystroke time → its frame reached this typist, of other typists' keystrokes. */
  latency: string;
  /** Intended keystroke time → visible in this typist's local doc. */
  visible: string;
  /** Intended keystroke time → sent, of this process's own keystrokes. */
  sendLag: string;
  received: number;
  keystrokes: number;
  cpuMs: number;
}

export interface DriverResult {
  type: 'result';
  windows: DriverWindow[];
  /** Every receiver saw every other typist's last keystroke before the drain bound. */
  drained: boolean;
  /** Deliveries of keystrokes outside the measured window (warmup, drain). */
  outside: number;
  typists: number;
}

/** Typist process → parent. */
export type DriverMessage = { type: 'ready' } | { type: 'failed'; message: string } | DriverResult;
