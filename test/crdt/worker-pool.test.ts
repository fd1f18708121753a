import { afterEach, describe, expect, it } from 'vitest';
import { CairnError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { compactViews, WorkerPool } from '../../src/crdt/worker-pool.js';
import type { ProbeJob } from '../helpers/probe-worker.js';

const moduleUrl = new URL('../helpers/probe-worker.ts', import.meta.url);
const logger = silentLogger;
let pool: WorkerPool<ProbeJob, unknown>;

function makePool(options: { recycleAfterWeight?: number; idleRecycleMs?: number } = {}) {
  pool = new WorkerPool<ProbeJob, unknown>({ moduleUrl, name: 'probe', logger, ...options });
  return pool;
}

afterEach(async () => {
  await pool.close();
});

describe('worker pool', () => {
  it('runs jobs on one worker until something asks for a new one', async () => {
    const p = makePool();
    const a = await p.run({ op: 'whoami' });
    const b = await p.run({ op: 'whoami' });
    expect(b).toBe(a);
    expect(p.started).toBe(1);
  });

  it('replaces a worker after a job heavier than recycleAfterWeight', async () => {
    const p = makePool({ recycleAfterWeight: 1000 });
    const first = await p.run({ op: 'whoami' }, { weight: 10 });
    expect(await p.run({ op: 'whoami' })).toBe(first);
    await p.run({ op: 'whoami' }, { weight: 5000 });
    expect(await p.run({ op: 'whoami' })).not.toBe(first);
    expect(p.started).toBe(2);
  });

  it('replaces a worker that asks to retire, after it answers what it holds', async () => {
    const p = makePool();
    const [first, retiring, queued] = await Promise.all([
      p.run({ op: 'whoami' }),
      p.run({ op: 'retire' }),
      p.run({ op: 'whoami' }),
    ]);
    expect(retiring).toBe(first);
    expect(queued).toBe(first); // sent before the retirement was known: still answered
    expect(await p.run({ op: 'whoami' })).not.toBe(first);
  });

  it('replaces an idle worker', async () => {
    const p = makePool({ idleRecycleMs: 1 });
    const first = await p.run({ op: 'whoami' });
    await new Promise((r) => setTimeout(r, 50));
    expect(await p.run({ op: 'whoami' })).not.toBe(first);
  });

  it('fails the jobs of a worker that dies, and starts a new one for the next', async () => {
    const p = makePool();
    const first = await p.run({ op: 'whoami' });
    await expect(p.run({ op: 'exit' })).rejects.toMatchObject({ code: 'Internal' });
    const next = await p.run({ op: 'whoami' });
    expect(next).not.toBe(first);
  });

  it('keeps a typed error code, and a job code as a plain error', async () => {
    const p = makePool();
    await expect(p.run({ op: 'fail', code: 'LimitExceeded' })).rejects.toBeInstanceOf(CairnError);
    await expect(p.run({ op: 'fail', code: 'DOC_BROKEN' })).rejects.toMatchObject({
      code: 'DOC_BROKEN',
      message: 'probe failed',
    });
  });

  it('sends a small view of a big buffer without its buffer', async () => {
    const p = makePool();
    const big = Buffer.alloc(4 << 20);
    const seen = await p.run({ op: 'bytes', bytes: big.subarray(100, 200) });
    expect(seen).toEqual({ byteLength: 100, bufferBytes: 100 });
  });

  it('answers StorageUnavailable after close', async () => {
    const p = makePool();
    await p.close();
    await expect(p.run({ op: 'whoami' })).rejects.toMatchObject({ code: 'StorageUnavailable' });
  });
});

describe('compactViews', () => {
  it('copies partial views inside objects and arrays, and leaves whole ones and the input alone', () => {
    const buf = new Uint8Array(64).fill(7);
    const whole = new Uint8Array(8);
    const job = { op: 'x', tail: [buf.subarray(2, 5), whole], base: { saved: buf.subarray(0, 1) } };
    const out = compactViews(job);
    expect(out.tail[0]?.buffer.byteLength).toBe(3);
    expect([...(out.tail[0] ?? [])]).toEqual([7, 7, 7]);
    expect(out.tail[1]).toBe(whole);
    expect(out.base.saved.buffer.byteLength).toBe(1);
    expect(job.tail[0]?.buffer.byteLength).toBe(64);
  });
});
