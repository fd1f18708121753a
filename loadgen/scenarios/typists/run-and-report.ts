import type { StandaloneContext, TargetCheck } from '../../scenario.js';
import { runMatrix, type MatrixOptions } from './run-matrix.js';
import { printBaselines, printRows, writeTypistReports, type TypistRow } from './typists-report.js';

/** What a client scenario (`typists`, `yjs`) brings to the shared run and report. */
export interface MatrixScenario {
  scenario: string;
  matrix: MatrixOptions;
  targets(rows: readonly TypistRow[]): TargetCheck[];
  /** The table's heading, given the store's description. */
  title(backendDescribe: string): string;
  /** Extra fields of the JSON report (flags, rates). */
  report: Record<string, unknown>;
}

/**
 * Runs the matrix, prints the table, targets and baselines, writes the JSON
 * and Influx reports; exit code 1 when a delivery is missing or the run was
 * cut short.
 */
export async function runAndReport(s: MatrixScenario, ctx: StandaloneContext): Promise<number> {
  const startedAt = new Date().toISOString();
  const result = await runMatrix(s.matrix, ctx);
  const checks = s.targets(result.rows);
  printRows(s.title(result.backendDescribe), result.rows, checks);
  printBaselines(result);
  const files = writeTypistReports(
    ctx.out,
    {
      scenario: s.scenario,
      backend: ctx.backend,
      startedAt,
      baselines: result.baselines,
      rawCommitMs: result.rawCommitMs,
      seconds: ctx.seconds,
      warmup: ctx.warmup,
      ...s.report,
    },
    result.rows,
    checks,
  );
  console.log(`\nreports: ${files.join(', ')}`);
  const lost = result.rows.some((r) => r.delivered !== r.expected);
  return lost || ctx.signal.aborted ? 1 : 0;
}
