import { errorCodeOf, HttpFailure, type HttpClient } from '../../lib/http.js';
import type { Outcome } from '../../lib/recorder.js';

/** Changes fetched per page (the route's maximum is 10,000). */
const PAGE = 1_000;
const MAX_PAGES = 100;

interface ChangeItem {
  seq: number;
  bytes: string;
}

/** What a fetch brought: the change bytes after `fromSeq - 1`, and the last seq seen. */
export interface Fetched {
  changes: Uint8Array[];
  lastSeq: number;
}

/**
 * The changes of a branch from `fromSeq` on (GET …/changes, paged, bounded):
 * how a writer whose base went stale gets what it lacks when the live
 * deliveries have not brought it in time. An outcome on failure.
 */
export async function fetchChanges(
  http: HttpClient,
  space: string,
  docId: string,
  fromSeq: number,
): Promise<Fetched | Outcome> {
  const base = `/v1/${space}/docs/${encodeURIComponent(docId)}/changes`;
  const changes: Uint8Array[] = [];
  let lastSeq = fromSeq - 1;
  for (let page = 0; page < MAX_PAGES; page++) {
    let a;
    try {
      a = await http.request('GET', `${base}?fromSeq=${lastSeq + 1}&limit=${PAGE}`);
    } catch (err) {
      const code = err instanceof HttpFailure ? err.code : 'ClientException';
      return { kind: 'error', code, detail: `fetch changes: ${(err as Error).message}` };
    }
    const items = (a.body as { items?: ChangeItem[] } | undefined)?.items;
    if (a.status !== 200 || !Array.isArray(items)) {
      return {
        kind: 'error',
        code: errorCodeOf(a),
        detail: `fetch changes: ${a.text.slice(0, 200)}`,
      };
    }
    for (const it of items) changes.push(new Uint8Array(Buffer.from(it.bytes, 'base64')));
    if (items.length > 0) lastSeq = (items[items.length - 1] as ChangeItem).seq;
    if (items.length < PAGE) return { changes, lastSeq };
  }
  return { kind: 'error', code: 'FetchTooLong', detail: `over ${MAX_PAGES} pages of changes` };
}

export const isOutcome = (x: Fetched | Outcome): x is Outcome => 'kind' in x;
