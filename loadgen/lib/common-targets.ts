import { fmtMs } from '../../bench/lib/percentiles.js';
import type { TargetCheck } from '../scenario.js';
import type { OpRow, RunSummary } from './summary.js';

const int = (n: number) => n.toLocaleString('en-US');

/** The row of `op` (or of a merged group) in a summary. */
export function rowOf(s: RunSummary, name: string): OpRow | undefined {
  return s.ops.find((r) => r.name === name) ?? s.groups.find((r) => r.name === name);
}

/** A line without a target: p50/p99/max of a row, for the table of targets. */
export function latencyLine(s: RunSummary, name: string, label = name): TargetCheck {
  const r = rowOf(s, name);
  return {
    name: `${label} latency`,
    target: '— (measured)',
    actual: r
      ? `p50 ${fmtMs(r.latencyMs.p50)}, p99 ${fmtMs(r.latencyMs.p99)}, max ${fmtMs(r.latencyMs.max)} (n=${int(r.count)})`
      : 'no samples',
    met: undefined,
  };
}

/**
 * The checks every open-loop scenario shares: answers only after a durable
 * commit (how the store was set up), no unexpected error, and the schedule
 * kept (each op answered at ≥ 99 % of its intended rate).
 */
export function commonTargets(s: RunSummary): TargetCheck[] {
  const sqlite = s.backend === 'sqlite';
  const behind = s.ops.filter(
    (r) => r.intended > 0 && r.achievedPerSecond < 0.99 * r.intendedPerSecond,
  );
  return [
    {
      name: 'durability',
      target: 'every answer after its durable commit',
      actual: sqlite
        ? 'cairn serve --sync full: SQLite synchronous=FULL'
        : 'cluster fsync=on, synchronous_commit=on (checked)',
      met: true,
    },
    {
      name: 'unexpected errors',
      target: '0',
      actual: int(s.unexpectedErrors),
      met: s.unexpectedErrors === 0,
    },
    {
      name: 'keeps the schedule',
      target: 'achieved ≥ 99% of intended, every op',
      actual: behind.length ? `behind: ${behind.map((r) => r.name).join(', ')}` : 'all ops',
      met: behind.length === 0,
    },
  ];
}
