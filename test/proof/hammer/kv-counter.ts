import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { backoffMs, call, codeOf } from './hammer-http.js';
import { TEST_BACKEND } from '../../helpers/backend.js';
import { SeededRandom } from '../../helpers/seeded-random.js';
import type { ServerProcess } from '../../helpers/server-process.js';

/**
 * A counter in ONE KV key (SPEC §12) incremented by many writers at once
 * over HTTP, the read-modify-write way: read value and revision, put value+1
 * with `ifRevision`, and on `409 RevisionMismatch` read again and retry
 * (bounded). Every round starts all writers together; each must land one
 * increment. What a lost update or a broken precondition would show: a final
 * value below the number of successful puts, a revision given twice, a put
 * that succeeded on a stale revision.
 */

/** Where and how hard to hammer. */
export interface KvCounterSetup {
  /** `http://127.0.0.1:<port>/v1/<space>` per server; writer i talks to `bases[i % n]`. */
  bases: string[];
  key: string;
  writers: number;
  rounds: number;
  seed: number;
  /** Attempts per increment (the first put included). */
  maxAttempts: number;
  /** Wall-clock bound on the whole run. */
  deadlineMs: number;
}

/** What happened; `unexpected` holds every violation (empty when sound). */
export interface KvCounterResult {
  successes: number;
  conflicts: number;
  retries: number;
  /** The revision each successful put was given. */
  revisions: number[];
  /** Value and revision at the start (after the create) and at the end. */
  start: { value: number; revision: number };
  end: { value: number; revision: number };
  unexpected: string[];
}

interface KvRecord {
  value: number;
  revision: number;
}

/** Runs the rounds; the caller asserts on the result. */
export async function hammerKvCounter(setup: KvCounterSetup): Promise<KvCounterResult> {
  const url = (i: number) =>
    `${setup.bases[i % setup.bases.length] as string}/kv/hammer/counter/records/${setup.key}`;
  const result: KvCounterResult = {
    successes: 0,
    conflicts: 0,
    retries: 0,
    revisions: [],
    start: { value: 0, revision: 0 },
    end: { value: 0, revision: 0 },
    unexpected: [],
  };
  const created = await call<KvRecord>(url(0), 'PUT', { value: 0, ifAbsent: true });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
  result.start = { value: 0, revision: created.body.revision };
  const stopAt = Date.now() + setup.deadlineMs;

  /** One increment by writer `w`: read, put value+1 on that revision, retry on a mismatch. */
  const increment = async (w: number, rng: SeededRandom, seen: { revision: number }) => {
    for (let attempt = 1; attempt <= setup.maxAttempts && Date.now() < stopAt; attempt++) {
      const what = `writer ${w} attempt ${attempt}`;
      const read = await call<KvRecord>(url(w), 'GET');
      if (read.status !== 200) return void result.unexpected.push(`${what}: get ${read.text}`);
      const { value, revision } = read.body;
      // A writer never reads an older revision than one it already saw.
      if (revision < seen.revision)
        result.unexpected.push(`${what}: read ${revision} after ${seen.revision}`);
      seen.revision = revision;
      const put = await call<KvRecord>(url(w), 'PUT', { value: value + 1, ifRevision: revision });
      if (put.status === 200) {
        if (put.body.revision !== revision + 1) {
          result.unexpected.push(`${what}: ifRevision ${revision} gave ${put.body.revision}`);
        }
        result.successes++;
        result.revisions.push(put.body.revision);
        seen.revision = put.body.revision;
        return;
      }
      if (put.status !== 409 || codeOf(put) !== 'RevisionMismatch') {
        return void result.unexpected.push(`${what}: put ${put.status} ${put.text.slice(0, 300)}`);
      }
      result.conflicts++;
      result.retries++;
      await sleep(backoffMs(rng, attempt));
    }
    result.unexpected.push(`writer ${w}: no increment within its attempts or the deadline`);
  };

  const writers = Array.from({ length: setup.writers }, (_, w) => ({
    w,
    rng: new SeededRandom(setup.seed + w),
    seen: { revision: 0 },
  }));
  for (let round = 0; round < setup.rounds; round++) {
    await Promise.all(writers.map((x) => increment(x.w, x.rng, x.seen)));
    const now = await call<KvRecord>(url(round), 'GET');
    const expected = result.successes;
    // After every round: each success counted once, none lost.
    if (now.body.value !== expected || now.body.revision !== result.start.revision + expected) {
      result.unexpected.push(`after round ${round}: ${now.text}, ${expected} increments made`);
    }
    result.end = { value: now.body.value, revision: now.body.revision };
  }
  return result;
}

/**
 * Runs the KV counter hammer against running servers of one dataset, prints
 * the `proof: hammer-<name>` line, and asserts: only successes and typed
 * `RevisionMismatch` answers, every writer landed each of its increments,
 * the successful puts got the revisions start+1 … start+S once each (they
 * strictly increase, none repeats), and the final value is S (no lost update).
 */
export async function runKvScenario(options: {
  name: string;
  space: string;
  servers: ServerProcess[];
  setup: Omit<KvCounterSetup, 'bases'>;
}): Promise<void> {
  const { setup, servers } = options;
  const bases = servers.map((s) => `${s.url}/v1/${options.space}`);
  const result = await hammerKvCounter({ ...setup, bases });
  const s = result.successes;
  console.log(
    `proof: hammer-${options.name} backend=${TEST_BACKEND} clients=${setup.writers} ` +
      `committed=${s} conflicts=${result.conflicts} retries=${result.retries} ` +
      `rounds=${setup.rounds} processes=${servers.length} seed=${setup.seed}`,
  );
  const context = `seed=${setup.seed} (replay: CAIRN_SEED=${setup.seed})`;
  // The servers' own account of a 5xx (logged with its request id).
  const errors = servers.flatMap((server) =>
    server
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50'))
      .slice(0, 3),
  );
  expect(result.unexpected, `${context}; server errors: ${errors.join('\n')}`).toEqual([]);
  expect(s, 'every writer landed one increment per round').toBe(setup.writers * setup.rounds);
  const sorted = [...result.revisions].sort((a, b) => a - b);
  expect(sorted, 'revisions given once each, densely').toEqual(
    Array.from({ length: s }, (_, i) => result.start.revision + 1 + i),
  );
  expect(result.end).toEqual({ value: s, revision: result.start.revision + s });
  for (const server of servers) expect(server.alive, `server :${server.port}`).toBe(true);
}
