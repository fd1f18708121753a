import { median } from './timing.js';

export interface Row {
  label: string;
  /** One value per run. */
  perSecond: number[];
  /** ours/raw per run (same run), when this row is compared to the baseline. */
  ratios?: number[];
  target?: { text: string; met: (ratio: number) => boolean };
  note?: string;
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function fmtRate(values: readonly number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return `${int.format(median(values))} [${int.format(lo)}–${int.format(hi)}]`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/**
 * A compact fixed-width table; returns whether every target row was met.
 * `ratioHeader` names what the ratios compare to (default: raw).
 * The target columns are left out when no row has a target.
 */
export function printTable(title: string, rows: readonly Row[], ratioHeader = 'ours/raw'): boolean {
  const withTargets = rows.some((r) => r.target);
  const keep = (cells: string[]) =>
    withTargets ? cells : [...cells.slice(0, 3), ...cells.slice(5)];
  const header = keep(['', 'tx/s median [min–max]', ratioHeader, 'target', 'met', '']);
  const lines = rows.map((r) => {
    const ratio = r.ratios ? median(r.ratios) : undefined;
    const met = r.target && ratio !== undefined ? r.target.met(ratio) : undefined;
    return {
      cells: keep([
        r.label,
        fmtRate(r.perSecond),
        ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
        r.target?.text ?? '',
        met === undefined ? '' : met ? 'yes' : 'NO',
        r.note ?? '',
      ]),
      met,
    };
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => l.cells[i]?.length ?? 0)),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => pad(c, widths[i] as number, i === 1 || i === 2))
      .join('  ')
      .trimEnd();
  console.log(title);
  console.log(`  ${render(header)}`);
  for (const l of lines) console.log(`  ${render(l.cells)}`);
  return lines.every((l) => l.met !== false);
}

/**
 * A fixed-width grid of preformatted cells: the first column left-aligned,
 * the others right-aligned except the last (a free-text note).
 */
export function printGrid(
  title: string,
  header: readonly string[],
  rows: readonly string[][],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const last = header.length - 1;
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => pad(c, widths[i] as number, i > 0 && i < last))
      .join('  ')
      .trimEnd();
  console.log(title);
  console.log(`  ${render(header)}`);
  for (const r of rows) console.log(`  ${render(r)}`);
}
