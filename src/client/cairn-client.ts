import * as A from '@automerge/automerge';
import { decodeBase64Strict, encodeBase64 } from '../protocol/base64.js';
import type { ErrorCode } from '../core/errors.js';
import type { TxReceipt } from '../protocol/receipt.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { CairnClientError } from './client-error.js';

/** The part of the WebSocket API the client uses (browsers' WebSocket, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export interface CairnClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8787` (with a basePath if embedded). */
  url: string;
  space: string;
  /** Where the client id is kept across restarts (e.g. `localStorage`). */
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void };
  /** A WebSocket constructor where there is no global one (Node: `ws`). */
  WebSocket?: new (url: string) => WebSocketLike;
  backoff?: Partial<BackoffOptions>;
}

/** A doc the client follows: its local Automerge state and who is told of changes. */
interface Followed {
  docId: string;
  branch: string;
  doc: A.Doc<Record<string, unknown>>;
  /** The epoch up to which `doc` holds the branch (0: nothing yet). */
  epoch: number;
  listeners: Set<(doc: A.Doc<Record<string, unknown>>) => void>;
}

interface PendingTx {
  body: { clientTxId: string; writes: unknown[] };
  resolve: (receipt: TxReceipt) => void;
  reject: (err: CairnClientError) => void;
}

interface Answer {
  type: string;
  id?: string | number | null;
  ok?: unknown;
  error?: { code: ErrorCode; message: string; [k: string]: unknown };
  epoch?: number;
  docs?: { docId: string; branch: string; kind: string; body: string | string[] }[];
}

const OPEN = 1;
const CLIENT_ID_KEY = 'cairn.clientId';

/**
 * A live client of one space (SPEC §6): follows docs as local Automerge
 * docs kept in sync from deliveries, commits local changes as pipelined
 * transactions (`merge` writes with a `clientTxId`, so a resend after a drop
 * is answered from the server's idempotency record), reconnects with
 * jittered backoff and resumes each doc from the epoch it holds.
 */
export class CairnClient {
  readonly clientId: string;
  private socket: WebSocketLike | undefined;
  private connected = false;
  private closed = false;
  private attempt = 0;
  private nextId = 1;
  private txCounter = 0;
  private readonly backoff: BackoffOptions;
  private readonly followed = new Map<string, Followed>();
  /** Transactions without a receipt, in the order made (resent in that order). */
  private readonly pending: PendingTx[] = [];
  private readonly calls = new Map<string | number, (a: Answer) => void>();
  private syncedWaiters: (() => void)[] = [];
  /** Sessions opened so far (a reconnect opens a new one). */
  sessions = 0;

  constructor(private readonly options: CairnClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const kept = options.storage?.getItem(CLIENT_ID_KEY);
    this.clientId = kept ?? randomId();
    if (!kept) options.storage?.setItem(CLIENT_ID_KEY, this.clientId);
    this.connect();
  }

  /** Follows a doc: `onChange` gets the local doc after every delivery and local change. */
  subscribe(
    docId: string,
    onChange: (doc: A.Doc<Record<string, unknown>>) => void,
    branch = 'main',
  ): () => void {
    const key = JSON.stringify([docId, branch]);
    let f = this.followed.get(key);
    if (!f) {
      f = { docId, branch, doc: A.init(), epoch: 0, listeners: new Set() };
      this.followed.set(key, f);
      if (this.connected) this.sendSubscribe(f);
    }
    f.listeners.add(onChange);
    const followed = f;
    return () => followed.listeners.delete(onChange);
  }

  /** The local doc (empty until its state arrived). */
  doc(docId: string, branch = 'main'): A.Doc<Record<string, unknown>> | undefined {
    return this.followed.get(JSON.stringify([docId, branch]))?.doc;
  }

  /** Changes a followed doc locally and commits the change; resolves with the receipt. */
  change(
    docId: string,
    fn: (d: Record<string, unknown>) => void,
    branch = 'main',
  ): Promise<TxReceipt> | undefined {
    const f = this.followed.get(JSON.stringify([docId, branch]));
    if (!f) throw new Error(`subscribe to ${docId} before changing it`);
    const before = A.getHeads(f.doc);
    f.doc = A.change(f.doc, fn);
    const change = A.getLastLocalChange(f.doc);
    if (!change || A.getHeads(f.doc).join() === before.join()) return undefined;
    for (const l of f.listeners) l(f.doc);
    return this.tx([{ docId, branch, merge: true, changes: [encodeBase64(change)] }]);
  }

  /** A transaction of raw writes (SPEC §2 body `writes`), pipelined on the connection. */
  tx(writes: unknown[]): Promise<TxReceipt> {
    const body = { clientTxId: `${this.clientId}:${++this.txCounter}`, writes };
    return new Promise<TxReceipt>((resolve, reject) => {
      const p: PendingTx = { body, resolve, reject };
      this.pending.push(p);
      if (this.connected) this.sendTx(p);
    });
  }

  /** Whether a session is open (hello answered). */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once every transaction made so far is durably committed (or refused). */
  synced(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** Closes the connection as a network failure would; the client reconnects and resumes. */
  dropConnection(): void {
    this.connected = false; // nothing more goes out on it; 'close' comes later
    this.socket?.close(4000, 'dropped by the client');
  }

  close(): void {
    this.closed = true;
    this.socket?.close(1000, 'client closed');
  }

  private connect(): void {
    if (this.closed) return;
    const global = (globalThis as unknown as { WebSocket?: new (u: string) => WebSocketLike })
      .WebSocket;
    const Ctor = this.options.WebSocket ?? global;
    if (!Ctor) throw new Error('no WebSocket: pass options.WebSocket');
    const url = `${this.options.url.replace(/^http/, 'ws')}/v1/${this.options.space}/ws`;
    const ws = new Ctor(url);
    this.socket = ws;
    ws.addEventListener('open', () => void this.opened(ws));
    ws.addEventListener('message', (e) => this.received(String(e.data)));
    ws.addEventListener('close', () => this.lost(ws));
    ws.addEventListener('error', () => undefined); // 'close' follows
  }

  private async opened(ws: WebSocketLike): Promise<void> {
    const hello = await this.call(ws, '/storage/hello', { clientId: this.clientId });
    if (hello.error || ws !== this.socket) return ws.close(1002, 'hello refused');
    this.connected = true;
    this.attempt = 0;
    this.sessions++;
    for (const f of this.followed.values()) this.sendSubscribe(f);
    for (const p of this.pending) this.sendTx(p);
  }

  private lost(ws: WebSocketLike): void {
    if (ws !== this.socket) return;
    this.connected = false;
    this.socket = undefined;
    for (const resolve of this.calls.values()) {
      resolve({
        type: 'task/return',
        error: { code: 'StorageUnavailable', message: 'disconnected' },
      });
    }
    this.calls.clear();
    if (this.closed) return;
    const delay = backoffDelayMs(this.attempt++, this.backoff);
    setTimeout(() => this.connect(), delay);
  }

  private call(ws: WebSocketLike, cmd: string, args: unknown): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.calls.set(id, resolve);
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ id, cmd, args }));
    });
  }

  private sendSubscribe(f: Followed): void {
    const ws = this.socket as WebSocketLike;
    const args = { docId: f.docId, branch: f.branch, sinceEpoch: f.epoch };
    void this.call(ws, '/storage/subscribe', args);
  }

  private sendTx(p: PendingTx): void {
    void this.call(this.socket as WebSocketLike, '/storage/tx', p.body).then((a) => {
      if (a.error?.code === 'StorageUnavailable' && a.error.message === 'disconnected') return;
      this.pending.splice(this.pending.indexOf(p), 1);
      if (a.error) p.reject(new CairnClientError(a.error.code, a.error.message, a.error));
      else p.resolve(a.ok as TxReceipt);
      if (this.pending.length === 0) for (const w of this.syncedWaiters.splice(0)) w();
    });
  }

  private received(text: string): void {
    const frame = JSON.parse(text) as Answer;
    if (frame.type === 'task/return' && frame.id !== undefined && frame.id !== null) {
      const resolve = this.calls.get(frame.id);
      this.calls.delete(frame.id);
      resolve?.(frame);
    } else if (frame.type === 'deliver') {
      this.deliver(frame);
    }
  }

  private deliver(frame: Answer): void {
    const epoch = frame.epoch as number;
    for (const entry of frame.docs ?? []) {
      const f = this.followed.get(JSON.stringify([entry.docId, entry.branch]));
      if (!f) continue;
      const bytes = (Array.isArray(entry.body) ? entry.body : [entry.body]).map(decodeBytes);
      // One call per delivery: applying changes one at a time is quadratic.
      if (entry.kind === 'snapshot') f.doc = A.loadIncremental(f.doc, bytes[0] as Uint8Array);
      else [f.doc] = A.applyChanges(f.doc, bytes);
      f.epoch = Math.max(f.epoch, epoch);
      for (const l of f.listeners) l(f.doc);
    }
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify({ type: 'ack', epoch }));
  }
}

function decodeBytes(text: string): Uint8Array {
  const bytes = decodeBase64Strict(text);
  if (!bytes) throw new CairnClientError('ValidationError', 'the server sent bad base64');
  return bytes;
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
