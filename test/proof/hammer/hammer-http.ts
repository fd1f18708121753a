import type { SeededRandom } from '../../helpers/seeded-random.js';

/**
 * HTTP calls of the hammer suites, over real loopback sockets to `cairn
 * serve` children. Every call is bounded in time: a call that gets no answer
 * within `ANSWER_TIMEOUT_MS` is reported as `status: 0` (a hang, the sign of
 * a deadlock), never left waiting. A body that is not JSON (a crash page, a
 * proxy error) is kept as text, so the caller can report it. Also the
 * clients' backoff between a refused call and its retry.
 */

/** Longest wait for one answer; a deadlocked writer would exceed it. */
export const ANSWER_TIMEOUT_MS = 30_000;

/** One answer: its HTTP status (0: none in time or a socket error) and its parsed body. */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  /** The raw body text, or the network error's message when `status` is 0. */
  text: string;
}

/** The `error` object of every error body (SPEC §9). */
export interface ErrorBody {
  ok: false;
  error: { code: string; message: string; currentHeads?: string[]; details?: unknown };
}

/** Sends one request; never throws for a network failure or a non-JSON body. */
export async function call<T = Record<string, unknown>>(
  url: string,
  method: 'GET' | 'POST' | 'PUT',
  body?: unknown,
): Promise<Answer<T>> {
  try {
    const res = await fetch(url, {
      method,
      ...(body !== undefined
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
        : {}),
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed as T, text };
  } catch (err) {
    return { status: 0, body: {} as T, text: `${method} ${url}: ${(err as Error).message}` };
  }
}

/** The error code of an answer (undefined for a success). */
export function codeOf(answer: Answer<unknown>): string | undefined {
  const error = (answer.body as Partial<ErrorBody>).error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

/** A change of the log as `GET …/changes` serves it. */
export interface ChangeItem {
  seq: number;
  epoch: number;
  hash: string;
  bytes: string;
}

/** The doc's log from `fromSeq` on, every page; throws on any non-200 (a read must not fail). */
export async function changesFrom(
  base: string,
  docId: string,
  fromSeq: number,
): Promise<ChangeItem[]> {
  const items: ChangeItem[] = [];
  let query = `fromSeq=${fromSeq}`;
  for (let page = 0; page < 1000; page++) {
    const got = await call<{ items: ChangeItem[]; nextCursor?: string }>(
      `${base}/docs/${encodeURIComponent(docId)}/changes?limit=500&${query}`,
      'GET',
    );
    if (got.status !== 200) throw new Error(`changes of ${docId}: ${got.status} ${got.text}`);
    items.push(...got.body.items);
    if (got.body.nextCursor === undefined) return items;
    query = `cursor=${got.body.nextCursor}`;
  }
  throw new Error(`changes of ${docId}: paging does not end`);
}

/** The signed tx record of one epoch as `GET …/tx/:epoch` serves it (the fields the hammer checks). */
export interface TxRecordItem {
  epoch: number;
  txHash: string;
  prevTxHash: string;
}

/** Every tx record of the space, epoch 1 up to the first 404 (bounded). */
export async function txRecords(base: string, maxEpochs = 100_000): Promise<TxRecordItem[]> {
  const records: TxRecordItem[] = [];
  for (let epoch = 1; epoch <= maxEpochs; epoch++) {
    const got = await call<TxRecordItem>(`${base}/tx/${epoch}`, 'GET');
    if (got.status === 404 && codeOf(got) === 'VersionNotFound') return records;
    if (got.status !== 200) throw new Error(`tx ${epoch}: ${got.status} ${got.text}`);
    records.push(got.body);
  }
  throw new Error(`more than ${maxEpochs} epochs`);
}

/**
 * Seeded full-jitter exponential backoff before a retry (up to 4 ms on the
 * first retry, doubling per attempt, capped at ~0.5 s): the usual optimistic
 * client's backoff. It spreads the retries of many refused clients so they
 * are not all refused by the same commit again; it only changes how many
 * retries are needed, never what a test checks.
 */
export function backoffMs(rng: SeededRandom, attempt: number): number {
  return rng.int(4 * 2 ** Math.min(Math.max(attempt, 1) - 1, 7));
}
