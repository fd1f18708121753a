import pg from 'pg';
import { nowMs } from './timing.js';

/** Client-side view of one statement kind: round trips and the time each took (call → result). */
export interface StatementStat {
  calls: number;
  ms: number;
}

export type StatementStats = Map<string, StatementStat>;

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

let active: StatementStats | undefined;
let installed = false;

/** A named statement by its name (`cairn_chainTip` → `chainTip`), otherwise its first words. */
function keyOf(arg: unknown): string {
  if (typeof arg === 'string') return arg.trim().split(/\s+/).slice(0, 3).join(' ');
  if (arg && typeof arg === 'object') {
    const { name, text } = arg as { name?: unknown; text?: unknown };
    if (typeof name === 'string') return name.replace(/^cairn_/, '');
    if (typeof text === 'string') return keyOf(text);
  }
  return '(other)';
}

/**
 * Wraps `pg.Client.prototype.query` (once) so that, while a recording is
 * active, every statement any client sends — the engine's pool included,
 * since it builds its clients from `pg.Client` — is counted and timed from
 * the call to its result. Outside a recording the wrapper only passes through.
 * Each statement is one round trip (the engine never pipelines).
 */
function install(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const stats = active;
    if (!stats) return original.apply(this, args);
    const key = keyOf(args[0]);
    const t0 = nowMs();
    const done = () => {
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += nowMs() - t0;
      stats.set(key, s);
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (...r: unknown[]) => {
        done();
        return (last as (...a: unknown[]) => unknown)(...r);
      };
      return original.apply(this, args);
    }
    const out = original.apply(this, args);
    if (out instanceof Promise) {
      return out.then(
        (v: unknown) => {
          done();
          return v;
        },
        (e: unknown) => {
          done();
          throw e;
        },
      );
    }
    return out;
  };
}

/** Starts recording into a fresh map (replacing any running recording) and returns it. */
export function startRecording(): StatementStats {
  install();
  active = new Map();
  return active;
}

export function stopRecording(): void {
  active = undefined;
}

export function totals(stats: StatementStats): StatementStat {
  let calls = 0;
  let ms = 0;
  for (const s of stats.values()) {
    calls += s.calls;
    ms += s.ms;
  }
  return { calls, ms };
}
