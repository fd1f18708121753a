import WebSocket from 'ws';
import { CairnClient, CairnClientError, type WebSocketLike } from '../../src/client/index.js';
import type { Outcome } from './recorder.js';

const WS = WebSocket as unknown as new (url: string) => WebSocketLike;

/**
 * The project's own live client (`cairn/client`, SPEC §6) over `ws`, on
 * loopback: transactions pipelined on one WebSocket, deliveries applied to
 * local Automerge docs. Reconnect backoff is seeded and short (a load run
 * should not sit out a 10 s backoff), and every client is tracked so the
 * scenario can close them all.
 */
export class LiveClients {
  private readonly all: CairnClient[] = [];

  constructor(
    private readonly url: string,
    private readonly random: () => number,
  ) {
    const host = new URL(url).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') {
      throw new Error(`loadgen only targets loopback, not ${host}`);
    }
  }

  /** A new client of `space` (connects at once). */
  open(space: string): CairnClient {
    const c = new CairnClient({
      url: this.url,
      space,
      WebSocket: WS,
      backoff: { minMs: 50, maxMs: 1_000, random: this.random },
    });
    this.all.push(c);
    return c;
  }

  get size(): number {
    return this.all.length;
  }

  /** Waits (bounded) until every client has an open session. */
  async connected(timeoutMs: number, signal: AbortSignal): Promise<void> {
    await waitUntil(
      () => this.all.every((c) => c.isConnected),
      `${this.all.length} live clients to connect`,
      timeoutMs,
      signal,
    );
  }

  /** Closes every client (no reconnect afterwards). */
  closeAll(): void {
    for (const c of this.all.splice(0)) c.close();
  }
}

/** Polls `check` every 10 ms until it holds; throws after `timeoutMs` (or on abort). */
export async function waitUntil(
  check: () => boolean,
  what: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (signal?.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A rejected client call as an outcome: its typed code (SPEC §9), else `ClientException`. */
export function clientFailure(err: unknown, what: string): Outcome {
  if (err instanceof TimeoutError) return { kind: 'error', code: 'Timeout', detail: err.message };
  if (err instanceof CairnClientError) {
    return { kind: 'error', code: err.code, detail: `${what}: ${err.message}` };
  }
  return { kind: 'error', code: 'ClientException', detail: `${what}: ${String(err)}` };
}

/** Rejects with a typed timeout after `ms` unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A client-side deadline passed (outcome code `Timeout`). */
export class TimeoutError extends Error {}

export { CairnClientError, type CairnClient };
