import { expect } from 'vitest';
import { expectStatus, MAX_REQUESTS_PER_RUN, pause, send, type LoadContext } from './outcome.js';

interface KvRecord {
  revision: number;
  value: { n?: number; count?: number };
}

/** The last acknowledged state of one writer's keys, and a put whose answer was lost. */
interface Owned {
  keys: string[];
  /** Whether puts carry `ifRevision` (else plain overwrites). */
  conditional: boolean;
  acked: { n: number; revision: number } | undefined;
  /** The `n` of a put with an unknown outcome: settled by reading the keys back. */
  pending: number | undefined;
  nextN: number;
}

/**
 * The KV part of the crash load (SPEC §12, HTTP routes): writers that each
 * own keys (plain puts, `ifRevision` puts, and all-or-nothing bulk puts of
 * a key pair), plus compare-and-set writers sharing one counter. Each
 * writer is alone on its keys, so the store must answer revision = the last
 * acknowledged + 1 every time, and after a lost answer the keys must hold
 * either the last acknowledged put or the lost one, in full.
 */
export class KvLoad {
  private readonly owned: Owned[];
  private counterMax = 0;
  acked = 0;
  readonly lost = { landed: 0, absent: 0 };

  constructor(
    writers: number,
    private readonly counterWriters: number,
  ) {
    this.owned = Array.from({ length: writers }, (_, i) => ({
      keys: i === 0 ? ['pair-a', 'pair-b'] : [`own-${i}`],
      conditional: i % 2 === 1,
      acked: undefined,
      pending: undefined,
      nextN: 1,
    }));
  }

  async run(ctx: LoadContext): Promise<void> {
    await Promise.all([
      ...this.owned.map((w) => this.runOwned(w, ctx)),
      ...Array.from({ length: this.counterWriters }, () => this.runCounter(ctx)),
    ]);
  }

  /** Reads a writer's keys back and checks them against its ledger; false when the server did not answer. */
  private async settle(base: string, w: Owned): Promise<boolean> {
    const records: (KvRecord | undefined)[] = [];
    for (const key of w.keys) {
      const out = await send('GET', `${base}/kv/crash/load/records/${key}`);
      if (out.kind === 'unknown') return false;
      expectStatus(out, [200, 404], `get ${key}`);
      if (out.status === 404) records.push(undefined);
      else {
        const { revision, value } = out.json as KvRecord;
        records.push({ revision, value });
      }
    }
    const [first] = records;
    // A bulk put is all or nothing: both keys at one put.
    for (const r of records) expect(r, `${w.keys.join('+')} half-written`).toEqual(first);
    const what = `${w.keys.join('+')} (acked ${JSON.stringify(w.acked)}, lost ${w.pending})`;
    if (first === undefined) {
      expect(w.acked, `acknowledged ${what} is gone`).toBeUndefined();
    } else if (w.acked && first.value.n === w.acked.n) {
      expect(first.revision, what).toBe(w.acked.revision);
    } else {
      expect(first.value.n, `${what}: holds neither`).toBe(w.pending);
      expect(first.revision, what).toBe((w.acked?.revision ?? 0) + 1);
      w.acked = { n: first.value.n as number, revision: first.revision };
    }
    if (w.pending !== undefined) this.lost[w.acked?.n === w.pending ? 'landed' : 'absent']++;
    w.pending = undefined;
    return true;
  }

  private async runOwned(w: Owned, ctx: LoadContext): Promise<void> {
    for (let i = 0; i < MAX_REQUESTS_PER_RUN && !ctx.stopped(); i++) {
      if (w.pending !== undefined) {
        if (!(await this.settle(ctx.base, w))) await pause(50);
        continue;
      }
      const n = w.nextN++;
      const put = {
        value: { n },
        ...(w.conditional && w.acked ? { ifRevision: w.acked.revision } : {}),
      };
      const ns = `${ctx.base}/kv/crash/load/records`;
      const out =
        w.keys.length === 1
          ? await send('PUT', `${ns}/${w.keys[0]}`, put)
          : await send('POST', ns, { items: w.keys.map((key) => ({ key, ...put })) });
      if (out.kind === 'unknown') {
        w.pending = n;
        await pause(50);
        continue;
      }
      expectStatus(out, [200, 201], `put ${w.keys.join('+')}`);
      const answers = w.keys.length === 1 ? [out.json] : (out.json as { items: unknown[] }).items;
      const revision = (w.acked?.revision ?? 0) + 1;
      for (const a of answers) expect((a as KvRecord).revision, w.keys.join('+')).toBe(revision);
      w.acked = { n, revision };
      this.acked++;
    }
  }

  /** Compare-and-set increments: the counter's revision always equals its count. */
  private async runCounter(ctx: LoadContext): Promise<void> {
    const url = `${ctx.base}/kv/crash/load/records/counter`;
    for (let i = 0; i < MAX_REQUESTS_PER_RUN && !ctx.stopped(); i++) {
      const got = await send('GET', url);
      if (got.kind === 'unknown') {
        await pause(50);
        continue;
      }
      expectStatus(got, [200, 404], 'get counter');
      const cur = got.status === 200 ? (got.json as KvRecord) : undefined;
      const count = (cur?.value.count ?? 0) + 1;
      const out = await send(
        'PUT',
        url,
        cur ? { value: { count }, ifRevision: cur.revision } : { value: { count }, ifAbsent: true },
      );
      if (out.kind === 'unknown' || out.status === 409) continue;
      expectStatus(out, [200, 201], 'put counter');
      expect((out.json as KvRecord).revision, 'counter revision = count').toBe(count);
      this.counterMax = Math.max(this.counterMax, count);
      this.acked++;
    }
  }

  /** Every acknowledged put present at its revision; lost ones all or nothing. */
  async check(base: string): Promise<void> {
    for (const w of this.owned) expect(await this.settle(base, w), 'KV answers').toBe(true);
    const out = await send('GET', `${base}/kv/crash/load/records/counter`);
    if (out.kind === 'unknown') throw new Error(`counter: ${out.why}`);
    expectStatus(out, this.counterMax > 0 ? [200] : [200, 404], 'get counter');
    if (out.status === 404) return;
    const { revision, value } = out.json as KvRecord;
    expect(revision, 'counter revision = count').toBe(value.count);
    expect(value.count, 'acknowledged increments kept').toBeGreaterThanOrEqual(this.counterMax);
  }
}
