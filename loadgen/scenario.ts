import type { Option } from 'commander';
import type { Backend, BackendKind } from './lib/backend.js';
import type { HttpClient } from './lib/http.js';
import type { Started } from './lib/open-loop.js';
import type { Progress } from './lib/progress.js';
import type { RunSummary } from './lib/summary.js';

/** What a scenario gets to prepare itself and to talk to the server. */
export interface ScenarioContext {
  http: HttpClient;
  backend: Backend;
  /** Seeded PRNG: uniform in [0, 1). */
  random: () => number;
  progress: Progress;
  /** Set on SIGINT/SIGTERM: stop setup early. */
  signal: AbortSignal;
}

/** A target line: what is wanted, what was measured, whether it holds (undefined: no target). */
export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  met: boolean | undefined;
}

/** A merged row of the summary (e.g. every read), HDR histograms merged. */
export interface OpGroup {
  name: string;
  ops: readonly string[];
}

/** A scenario ready to run against one server. */
export interface PreparedScenario {
  /** One line for the report header. */
  describe: string;
  /** Operations per second, every op together, on a fixed schedule. */
  ratePerSecond: number;
  /** Operation names in report order. */
  ops: readonly string[];
  groups: readonly OpGroup[];
  /** Untimed work before the warmup (e.g. prefill); what it returns goes in the report. */
  setup(): Promise<Record<string, unknown>>;
  /** Starts slot n's operation (called at its intended time by the open loop). */
  start(slot: number): Started;
  /** Scenario facts after the run (e.g. keys tracked). */
  facts(): Record<string, unknown>;
  /** The target lines (a scenario may read the server for a final check). */
  targets(summary: RunSummary): TargetCheck[] | Promise<TargetCheck[]>;
  /**
   * Releases what setup opened (e.g. live clients), before the server stops;
   * called once, whether the run completed, failed or was stopped (optional).
   */
  teardown?(): Promise<void>;
}

/** What a scenario that drives its own run (e.g. `typists`) gets from the CLI. */
export interface StandaloneContext {
  backend: BackendKind;
  seconds: number;
  warmup: number;
  /** Directory of the JSON and Influx reports. */
  out: string;
  seed: number;
  progress: Progress;
  /** Set on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * A load scenario: its flags (added to the CLI) and how it builds a run —
 * either `prepare` (one server, the shared open loop of request/answer
 * operations) or `run` (a scenario with its own clients and servers, e.g.
 * typists in several processes against cairn and peer servers in turn).
 */
export interface Scenario {
  name: string;
  summary: string;
  /** Flags only this scenario takes (attribute names must not clash). */
  options(): Option[];
  /** Checks the flags together before anything starts (throws UsageError). */
  validate?(flags: Record<string, unknown>): void;
  prepare?(flags: Record<string, unknown>, ctx: ScenarioContext): PreparedScenario;
  /** Runs the whole scenario; resolves with the exit code. */
  run?(flags: Record<string, unknown>, ctx: StandaloneContext): Promise<number>;
}
