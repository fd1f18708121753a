import * as A from '@automerge/automerge';
import type { SequentialTrace } from '../../bench/lib/trace-replay.js';
import { loadTrace, TRACE_MISSING, traceFile } from '../../test/helpers/trace-data.js';

/** One text edit: `[position, deleteCount, insertText]`, positions in UTF-16 units. */
export type Patch = [number, number, string];

/** Where the edits come from: the shared editing traces, or synthetic typing when absent. */
export interface EditCorpus {
  source: 'trace' | 'synthetic';
  /** One line for the report. */
  describe: string;
  /** Sequential traces (none when synthetic). */
  traces: readonly SequentialTrace[];
}

/** The sequential traces of /work/shared/data/traces (ATTRIBUTION.md), BMP text only. */
const TRACE_NAMES = ['automerge-paper', 'friendsforever_flat'] as const;

const ASTRAL = /[\uD800-\uDFFF]/;

/** Trace positions are code points; without astral characters they equal UTF-16 indexes. */
function bmpOnly(t: SequentialTrace): boolean {
  if (ASTRAL.test(t.startContent) || ASTRAL.test(t.endContent)) return false;
  return !t.txns.some((x) => x.patches.some((p) => ASTRAL.test(p[2])));
}

/**
 * Reads the sequential editing traces (read by path, never copied). When
 * none is there, prints `skipped: trace data not found` and falls back to
 * synthetic typing, so the scenario still runs and says so in its report.
 */
export function loadEditCorpus(): EditCorpus {
  const traces: SequentialTrace[] = [];
  const names: string[] = [];
  for (const name of TRACE_NAMES) {
    const file = traceFile(name);
    if (!file) continue;
    const t = loadTrace<SequentialTrace>(file);
    if (!bmpOnly(t)) continue;
    traces.push(t);
    names.push(`${name} (${t.txns.length.toLocaleString('en-US')} txns)`);
  }
  if (traces.length === 0) {
    console.log(`${TRACE_MISSING}: synthetic typing instead (seeded)`);
    return { source: 'synthetic', describe: 'synthetic typing (no trace data)', traces };
  }
  return { source: 'trace', describe: `trace edits: ${names.join(', ')}`, traces };
}

/**
 * One writer's stream of edits to one text field, and the text they make
 * (so the final state can be checked). A trace is replayed txn by txn from
 * `offset`; at its end the text is cleared and the trace starts again.
 * Synthetic typing: mostly 1–3 characters at a moving cursor, some
 * backspaces, the odd jump.
 */
export class TextEditor {
  /** The text after every edit handed out so far. */
  text: string;
  private next = 0;
  private cursor = 0;
  /** The state before the last edit handed out (for `rollback`). */
  private before: { text: string; next: number; cursor: number } | undefined;

  constructor(
    private readonly trace: SequentialTrace | undefined,
    private readonly random: () => number,
  ) {
    this.text = trace?.startContent ?? '';
  }

  /** The next edit's patches (never empty), already applied to `text`. */
  nextEdit(): Patch[] {
    this.before = { text: this.text, next: this.next, cursor: this.cursor };
    const patches = this.trace ? this.fromTrace(this.trace) : [this.synthetic()];
    for (const [pos, del, ins] of patches) {
      this.text = this.text.slice(0, pos) + ins + this.text.slice(pos + del);
    }
    return patches;
  }

  /** Takes back the last edit (it was never committed): the next one is the same again. */
  rollback(): void {
    if (!this.before) return;
    ({ text: this.text, next: this.next, cursor: this.cursor } = this.before);
    this.before = undefined;
  }

  private fromTrace(trace: SequentialTrace): Patch[] {
    // Bounded: one pass over the trace finds an edit that changes something.
    for (let tries = 0; tries <= trace.txns.length; tries++) {
      if (this.next >= trace.txns.length) {
        this.next = 0;
        // Back to the trace's start: one edit that clears the text.
        if (this.text !== trace.startContent) return [[0, this.text.length, trace.startContent]];
      }
      const txn = trace.txns[this.next++];
      const patches = (txn?.patches ?? []).filter((p) => p[1] > 0 || p[2].length > 0);
      if (patches.length > 0) return patches;
    }
    throw new Error('the trace has no edit that changes the text');
  }

  private synthetic(): Patch {
    const r = this.random();
    const len = this.text.length;
    if (r < 0.03 || this.cursor > len) this.cursor = Math.floor(this.random() * (len + 1));
    if (r < 0.15 && this.cursor > 0) {
      const del = Math.min(this.cursor, 1 + Math.floor(this.random() * 2));
      this.cursor -= del;
      return [this.cursor, del, ''];
    }
    const chars = 'etaoinshrdlu      ';
    let ins = '';
    const n = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < n; i++) ins += chars[Math.floor(this.random() * chars.length)];
    const at = this.cursor;
    this.cursor += n;
    return [at, 0, ins];
  }
}

/** Applies patches to the text field `field` of an Automerge doc being changed. */
export function splicePatches(d: Record<string, unknown>, field: string, patches: Patch[]): void {
  for (const [pos, del, ins] of patches) A.splice(d, [field], pos, del, ins);
}

/** The hash of the doc's last local change (the one just made). */
export function lastLocalHash(doc: A.Doc<unknown>): string | undefined {
  const change = A.getLastLocalChange(doc);
  return change ? A.decodeChange(change).hash : undefined;
}

/** The trace writer `index` replays: writers alternate between the traces. */
export function traceFor(corpus: EditCorpus, index: number): SequentialTrace | undefined {
  return corpus.traces.length ? corpus.traces[index % corpus.traces.length] : undefined;
}
