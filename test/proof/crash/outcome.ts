import { REQUEST_TIMEOUT_MS } from '../../helpers/http.js';

/**
 * One request of the crash load, classified the way a client must treat
 * it: an answer it can rely on, or an unknown outcome (the connection died,
 * or the server said 503 StorageUnavailable) — the write may or may not be
 * stored, and the client has to find out.
 */
export type Outcome =
  | { kind: 'answer'; status: number; json: unknown; headers: Headers }
  | { kind: 'unknown'; why: string };

/** Unknown outcomes seen by this process (lost answers and 503s), for the `proof:` lines. */
export const unknownOutcomes = { count: 0 };

/** Sends one request; never throws for a dead server or a refused write. */
export async function send(
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  body?: unknown,
): Promise<Outcome> {
  try {
    const raw = body instanceof Uint8Array;
    const res = await fetch(url, {
      method,
      headers: raw
        ? { 'content-type': 'application/octet-stream' }
        : body !== undefined
          ? { 'content-type': 'application/json' }
          : {},
      body: raw ? body : body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const json: unknown = res.headers.get('content-type')?.includes('json')
      ? JSON.parse(text)
      : text;
    if (res.status === 503) {
      // The only 503 a write gets is StorageUnavailable: anything else is a bug to see.
      const code = (json as { error?: { code?: string } }).error?.code;
      if (code !== 'StorageUnavailable') throw new Error(`503 with ${JSON.stringify(json)}`);
      unknownOutcomes.count++;
      return { kind: 'unknown', why: '503 StorageUnavailable' };
    }
    return { kind: 'answer', status: res.status, json, headers: res.headers };
  } catch (err) {
    if ((err as Error).message.startsWith('503 with')) throw err;
    unknownOutcomes.count++;
    return { kind: 'unknown', why: (err as Error).message };
  }
}

/** Throws with the answer in the message unless its status is one of `ok`. */
export function expectStatus(
  out: Extract<Outcome, { kind: 'answer' }>,
  ok: number[],
  what: string,
): void {
  if (!ok.includes(out.status)) {
    throw new Error(`${what}: answered ${out.status} ${JSON.stringify(out.json)}`);
  }
}

/** What every writer of the load shares: where to send and when to stop. */
export interface LoadContext {
  /** `http://127.0.0.1:<port>/v1/<space>` */
  readonly base: string;
  /** True once the load must end (the server was killed, or the run is over). */
  stopped(): boolean;
}

/** A bounded pause (writers back off this long after an unknown outcome). */
export const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Upper bound on the requests one writer sends in one run (the stop comes first). */
export const MAX_REQUESTS_PER_RUN = 5_000;
