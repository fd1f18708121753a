import { errorCodeOf, HttpFailure, type HttpAnswer, type HttpClient } from '../../lib/http.js';
import { OK, type Outcome } from '../../lib/recorder.js';
import { HISTORY_PAGE, type Commit, type HistoryDoc } from './history.js';

/** The read kinds, one op row each: a doc at a version (four selectors) and the two log feeds. */
export const DOC_READS = ['doc@epoch', 'doc@seq', 'doc@at', 'doc@heads'] as const;
export const LOG_READS = ['changes', 'history'] as const;
export type ReadKind = (typeof DOC_READS)[number] | (typeof LOG_READS)[number];

/** Changes read per `changes` request. */
const CHANGES_PAGE = 100;

interface DocAnswer {
  seq?: number;
  epoch?: number;
  heads?: string[];
  rootRef?: string;
  value?: { text?: unknown };
}

interface LogItem {
  seq?: number;
}

const fail = (code: string, detail: string): Outcome => ({ kind: 'error', code, detail });

/** The last of `sorted` whose `key` is at most `limit` (`key` non-decreasing along `sorted`). */
function lastAtOrBefore(
  sorted: readonly Commit[],
  limit: number,
  key: (c: Commit) => number = (c) => c.epoch,
): Commit | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found: Commit | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = sorted[mid] as Commit;
    if (key(c) <= limit) {
      found = c;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * Point-in-time reads at random versions of the history, each checked
 * against the receipts of the commits that built it: a doc read must give
 * exactly the version asked for (seq, epoch, heads and rootRef of the
 * commit it lands on), a page of the log exactly the seqs asked for. Any
 * other answer is an unexpected error.
 */
export class PitReads {
  /** Every commit of the space, by epoch (for `at=`: the last epoch at or before an instant). */
  private readonly all: Commit[];

  constructor(
    private readonly http: HttpClient,
    private readonly space: string,
    private readonly docs: readonly HistoryDoc[],
    private readonly rand: () => number,
  ) {
    this.all = docs.flatMap((d) => d.commits).sort((a, b) => a.epoch - b.epoch);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)] as T;
  }

  private async get(path: string): Promise<HttpAnswer | Outcome> {
    try {
      return await this.http.request('GET', path);
    } catch (err) {
      if (err instanceof HttpFailure) return fail(err.code, err.message);
      return fail('ClientException', String(err));
    }
  }

  async read(kind: ReadKind): Promise<Outcome> {
    const doc = this.pick(this.docs.filter((d) => d.commits.length > 0));
    const base = `/v1/${this.space}/docs/${doc.docId}`;
    const first = doc.commits[0] as Commit;
    const last = doc.commits[doc.commits.length - 1] as Commit;
    switch (kind) {
      case 'doc@epoch': {
        // Any epoch from the doc's first commit to the space's last: most land between its commits.
        const top = (this.all[this.all.length - 1] as Commit).epoch;
        const epoch = first.epoch + Math.floor(this.rand() * (top - first.epoch + 1));
        return this.docAt(`${base}?epoch=${epoch}`, lastAtOrBefore(doc.commits, epoch));
      }
      case 'doc@at': {
        const top = (this.all[this.all.length - 1] as Commit).committedAt;
        const ms = first.committedAt + Math.floor(this.rand() * (top - first.committedAt + 1));
        // The space's last commit at or before the instant (committedAt never decreases), then as epoch=.
        const spaceCommit = lastAtOrBefore(this.all, ms, (c) => c.committedAt) as Commit;
        return this.docAt(`${base}?at=${ms}`, lastAtOrBefore(doc.commits, spaceCommit.epoch));
      }
      case 'doc@heads': {
        const c = this.pick(doc.commits);
        return this.docAt(`${base}?heads=${c.heads.join(',')}`, c);
      }
      case 'doc@seq': {
        const seq = 1 + Math.floor(this.rand() * last.seq);
        const a = await this.get(`${base}?seq=${seq}`);
        if ('kind' in a) return a;
        const body = a.body as DocAnswer | undefined;
        if (a.status !== 200) return fail(errorCodeOf(a), `seq=${seq}: ${a.text.slice(0, 200)}`);
        return body?.seq === seq && typeof body.value?.text === 'string'
          ? OK
          : fail('WrongVersion', `seq=${seq} answered seq ${body?.seq}`);
      }
      case 'changes': {
        const from = 1 + Math.floor(this.rand() * last.seq);
        const a = await this.get(`${base}/changes?fromSeq=${from}&limit=${CHANGES_PAGE}`);
        return this.page(
          a,
          from,
          Math.min(CHANGES_PAGE, last.seq - from + 1),
          1,
          `changes from ${from}`,
        );
      }
      case 'history': {
        // Page k + 1 of the newest-first feed (k = -1: the first page).
        const k = Math.floor(this.rand() * (doc.historyCursors.length + 1)) - 1;
        const cursor =
          k >= 0 ? `&cursor=${encodeURIComponent(doc.historyCursors[k] as string)}` : '';
        const top = last.seq - (k + 1) * HISTORY_PAGE;
        const a = await this.get(`${base}/history?limit=${HISTORY_PAGE}${cursor}`);
        return this.page(a, top, Math.min(HISTORY_PAGE, top), -1, `history page ${k + 1}`);
      }
    }
  }

  /** A doc read that must land on commit `want`. */
  private async docAt(path: string, want: Commit | undefined): Promise<Outcome> {
    const a = await this.get(path);
    if ('kind' in a) return a;
    if (!want) return fail('PlanError', `${path}: no commit expected there`);
    if (a.status !== 200) return fail(errorCodeOf(a), `${path}: ${a.text.slice(0, 200)}`);
    const b = a.body as DocAnswer;
    const same =
      b.seq === want.seq &&
      b.epoch === want.epoch &&
      b.rootRef === want.rootRef &&
      JSON.stringify(b.heads) === JSON.stringify(want.heads) &&
      typeof b.value?.text === 'string';
    if (same) return OK;
    return fail(
      'WrongVersion',
      `${path}: got seq ${b.seq} epoch ${b.epoch}, want seq ${want.seq} epoch ${want.epoch}`,
    );
  }

  /** A log page: `count` items from seq `from`, stepping by `step`. */
  private page(
    a: HttpAnswer | Outcome,
    from: number,
    count: number,
    step: number,
    what: string,
  ): Outcome {
    if ('kind' in a) return a;
    if (a.status !== 200) return fail(errorCodeOf(a), `${what}: ${a.text.slice(0, 200)}`);
    const items = (a.body as { items?: LogItem[] }).items ?? [];
    const ok = items.length === count && items.every((it, i) => it.seq === from + i * step);
    return ok
      ? OK
      : fail(
          'WrongPage',
          `${what}: ${items.length} items from seq ${items[0]?.seq}, want ${count} from ${from}`,
        );
  }
}
