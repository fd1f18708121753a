import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';
import { afterEach, beforeEach, expect } from 'vitest';
import { hashOf, Replica, write, type Doc } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * The shared fixture of the branch tests (SPEC §3-§5 over HTTP, in-process, on the backend under test: branches
 * forked from any point (sharing the parent's history), their reads and
 * writes, listing and closing, client and server merges, import of
 * Automerge files, the history feed, the doc listing and snapshots.
 */

/** Commit times are T0 + k seconds (the engine's clock ticks once per call). */
export const T0 = Date.UTC(2025, 0, 1);

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ErrorBody {
  ok: false;
  error: { code: string; message: string; [k: string]: unknown };
}

export interface BranchView {
  name: string;
  parent: string | null;
  forkSeq: number | null;
  forkHeads: string[] | null;
  heads: string[];
  seq: number;
  closed: boolean;
  mergedInto: string | null;
  createdAt: number;
}

export interface DocJson {
  docId: string;
  branch: string;
  seq: number;
  epoch: number;
  heads: string[];
  rootRef: string;
  value: Record<string, unknown>;
}

export interface WriteResult {
  docId: string;
  branch: string;
  status: string;
  seq: number;
  newHeads: string[];
  rootRef: string;
  applied: number;
  duplicates: number;
}

export interface Receipt {
  ok: true;
  epoch: number;
  committedAt: number;
  txHash: string;
  results: WriteResult[];
}

export interface MergeReply extends Receipt {
  conflicts: { path: (string | number)[]; values: unknown[] }[];
}

export interface HistoryItem {
  seq: number;
  epoch: number;
  committedAt: number;
  hash: string;
  actor: string;
  actorSeq: number;
  deps: string[];
  time: number;
  message?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface SnapshotReply {
  snapshotId: string;
  seq: number;
  heads: string[];
  rootRef: string;
  bytes: number;
}

export interface Committed extends WriteResult {
  epoch: number;
  committedAt: number;
}

/** The engine of the running test (a live binding: reassigned before each test). */
export let engine: TestEngine;
let tick = 0;

export async function start(options: Parameters<typeof startEngine>[0] = {}): Promise<TestEngine> {
  return startEngine({
    enableServerMerge: true,
    clock: () => T0 + ++tick * 1000,
    ...options,
  });
}

/** Registers the per-test engine (call once at the top of a test file). */
export function useEngine(): void {
  beforeEach(async () => {
    tick = 0;
    engine = await start();
  });
  afterEach(async () => {
    await engine.close();
  });
}

// ---------------------------------------------------------------------------
// Helpers

export async function http<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: { space?: string; accept?: string; on?: TestEngine } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  let payload: string | Uint8Array | undefined;
  if (body instanceof Uint8Array) {
    payload = body;
    headers['content-type'] = 'application/octet-stream';
  } else if (typeof body === 'string') {
    payload = body;
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  if (options.accept) headers.accept = options.accept;
  const res = await (options.on ?? engine).cairn.fetch(
    new Request(`http://x/v1/${options.space ?? SPACE}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload as NonNullable<RequestInit['body']> } : {}),
    }),
  );
  const type = res.headers.get('content-type') ?? '';
  const parsed = type.includes('json')
    ? ((await res.json()) as T)
    : (new Uint8Array(await res.arrayBuffer()) as T);
  return { status: res.status, body: parsed, headers: res.headers };
}

export const get = <T = unknown>(path: string, options?: Parameters<typeof http>[3]) =>
  http<T>('GET', path, undefined, options);
export const post = <T = unknown>(
  path: string,
  body?: unknown,
  options?: Parameters<typeof http>[3],
) => http<T>('POST', path, body, options);

export function expectError(reply: Reply, status: number, code: string): ErrorBody['error'] {
  const body = reply.body as ErrorBody;
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(body.ok).toBe(false);
  expect(body.error.code, JSON.stringify(reply.body)).toBe(code);
  return body.error;
}

export function expectStatus<T>(reply: Reply<T>, status: number): T {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  return reply.body;
}

/** One write of one branch; returns its result with the commit's epoch and time. */
export async function commit(
  docId: string,
  branch: string,
  changes: Uint8Array[],
  baseHeads: string[],
): Promise<Committed> {
  const receipt = await engine.ok({ writes: [write(docId, changes, baseHeads, { branch })] });
  const result = receipt.results[0] as WriteResult;
  return { ...result, epoch: receipt.epoch, committedAt: receipt.committedAt };
}

/** The doc made of these changes (causal order), built locally. */
export function docOf(changes: readonly Uint8Array[]): Doc {
  return A.applyChanges(A.init<Record<string, unknown>>(), [...changes])[0];
}

export function jsonOf(doc: Doc): unknown {
  return JSON.parse(JSON.stringify(A.toJS(doc)));
}

export function headsOf(doc: Doc): string[] {
  return [...A.getHeads(doc)].sort();
}

export function rootRefOf(heads: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([...heads].sort()))
    .digest('hex');
}

export const sorted = (hashes: string[]) => [...hashes].sort();

export async function tipEpoch(space = SPACE): Promise<number> {
  const lease = await engine.cairn.backend.acquireSpace(space, { create: false });
  if (!lease) return 0;
  try {
    return (await lease.store.reader.chainTip()).epoch;
  } finally {
    lease.release();
  }
}

export async function branches(docId = 'doc'): Promise<BranchView[]> {
  return expectStatus(await get<{ items: BranchView[] }>(`/docs/${docId}/branches`), 200).items;
}

export async function readDoc(docId: string, query: string): Promise<DocJson> {
  return expectStatus(await get<DocJson>(`/docs/${docId}?${query}`), 200);
}

/** Every page of a paged route, following nextCursor (bounded). */
export async function allPages<T>(
  path: string,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages <= 100; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = expectStatus(await get<Page<T>>(`${path}${sep}${query}`), 200);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    if (page.nextCursor === undefined) return { items, pages };
    expect(page.items.length, 'a page with a cursor is full').toBe(limit);
    cursor = page.nextCursor;
  }
  throw new Error(`${path}: more than 100 pages`);
}

/**
 * The main branch of "doc": seq 1 = c1 | seqs 2-3 = c2, c3 (one commit) |
 * seq 4 = c4 (actor 1) | seq 5 = b1 (actor 2, concurrent with c4).
 * Final heads: [b1, c4].
 */
export async function seedMain(docId = 'doc') {
  const r1 = new Replica(1);
  const c1 = r1.change((d) => {
    d.title = 'one';
    d.meta = { owner: 'nobody' };
  });
  const e1 = await commit(docId, 'main', [c1], []);
  const c2 = r1.change((d) => void (d.n = 2));
  const c3 = r1.change((d) => void (d.n = 3));
  const e2 = await commit(docId, 'main', [c2, c3], [hashOf(c1)]);
  const r2 = new Replica(2, r1.doc);
  const c4 = r1.change((d) => void (d.left = 4));
  const e3 = await commit(docId, 'main', [c4], [hashOf(c3)]);
  const b1 = r2.change((d) => void (d.right = 5));
  // Base heads are the current heads ([c4]); b1 itself depends on c3 only.
  const e4 = await commit(docId, 'main', [b1], [hashOf(c4)]);
  expect(e4.newHeads).toEqual(sorted([hashOf(b1), hashOf(c4)]));
  const log = [c1, c2, c3, c4, b1];
  /** Epoch of the commit that appended each seq (index seq - 1). */
  const epochs = [e1.epoch, e2.epoch, e2.epoch, e3.epoch, e4.epoch];
  return { c1, c2, c3, c4, b1, log, epochs, commits: [e1, e2, e3, e4], r1, r2 };
}

// ---------------------------------------------------------------------------
