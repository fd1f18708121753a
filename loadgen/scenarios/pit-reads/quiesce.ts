import type { HttpClient } from '../../lib/http.js';
import type { Progress } from '../../lib/progress.js';

const POLL_MS = 1_000;
/** Polls in a row without a new snapshot before the server counts as settled. */
const STABLE_POLLS = 3;

/** The server's count of snapshots made (`cairn_snapshots_total{result="made"}`), NaN if absent. */
async function snapshotsMade(http: HttpClient): Promise<number> {
  const a = await http.request('GET', '/metrics');
  const m = /^cairn_snapshots_total\{result="made"[^}]*\} (\S+)$/m.exec(a.text);
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * After a bulk of commits the server makes its snapshots off the commit
 * path (SPEC §5), for a while: reads measured during that work would
 * measure it too. Waits (bounded by `maxSeconds`) until no new snapshot
 * has been made for `STABLE_POLLS` seconds.
 */
export async function waitForSnapshots(
  http: HttpClient,
  progress: Progress,
  maxSeconds: number,
  signal: AbortSignal,
): Promise<{ snapshotsMade: number; seconds: number; settled: boolean }> {
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  let last = await snapshotsMade(http);
  // No such metric: nothing to wait for.
  if (Number.isNaN(last)) return { snapshotsMade: last, seconds: 0, settled: false };
  let stable = 0;
  while (stable < STABLE_POLLS && performance.now() < deadline && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const now = await snapshotsMade(http);
    stable = now === last ? stable + 1 : 0;
    last = now;
    progress.update(
      `pit-reads: waiting for the server's snapshots to settle (${last} made, ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s)…`,
    );
  }
  progress.done();
  return {
    snapshotsMade: last,
    seconds: (performance.now() - started) / 1000,
    settled: stable >= STABLE_POLLS,
  };
}
