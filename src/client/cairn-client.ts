import * as A from '@automerge/automerge';
import { decodeBase64Strict, encodeBase64 } from '../protocol/base64.js';
import type { ErrorCode } from '../core/errors.js';
import type { TxReceipt } from '../protocol/receipt.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { CairnClientError } from './client-error.js';
import { FollowedDoc } from './followed-doc.js';

/** The part of the WebSocket API the client uses (browsers' WebSocket, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'close', listener: (event: { code?: number }) => void): void;
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
  /**
   * The UCAN sent in `hello` (SPEC §7): a token, or a function giving a
   * fresh one — called for every session, so a session closed because its
   * token expired (code 4001) reconnects at once with a new token.
   */
  token?: string | (() => string | Promise<string>);
}

interface PendingTx {
  body: { clientTxId: string; writes: unknown[] };
  resolve: (receipt: TxReceipt) => void;
  reject: (err: CairnClientError) => void;
  /** Sent on the current session and not yet answered. */
  sent: boolean;
}

/**
 * Transactions of one doc in flight at once. Local changes made meanwhile
 * wait and go together in the next one: a burst of edits becomes a few
 * large transactions instead of one per keystroke, and the server commits
 * them at its group-commit rate.
 */
const MAX_IN_FLIGHT_PER_DOC = 4;
/** Changes in one transaction (the server's default `maxChangesPerWrite` is 10,000). */
const MAX_CHANGES_PER_TX = 1000;

interface Answer {
  type: string;
  id?: string | number | null;
  ok?: unknown;
  error?: { code: ErrorCode; message: string; [k: string]: unknown };
  epoch?: number;
  docs?: { docId: string; branch: string; kind: string; body: string | string[] }[];
}

const OPEN = 1;
/** Close code of a session whose token expired (SPEC §6). */
const CLOSE_TOKEN_EXPIRED = 4001;
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
  private readonly followed = new Map<string, FollowedDoc>();
  /** Transactions without a receipt, in the order made (resent in that order). */
  private readonly pending: PendingTx[] = [];
  private readonly calls = new Map<string | number, (a: Answer) => void>();
  private syncedWaiters: (() => void)[] = [];
  /** Transactions sent on this session and not yet answered, and the server's cap on them. */
  private inFlight = 0;
  private maxInFlight = 1024;
  private flushScheduled = false;
  private applyScheduled = false;
  /** When the last apply of deliveries ended, and how long it took. */
  private lastApplyEndMs = 0;
  private lastApplyMs = 0;
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
      f = new FollowedDoc(docId, branch);
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

  /**
   * Changes a followed doc locally and commits the change (merged with the
   * branch's heads on the server); resolves with the receipt of the
   * transaction that carried it. Changes made in one turn of the event loop,
   * or while earlier ones are in flight, share a transaction.
   */
  change(
    docId: string,
    fn: (d: Record<string, unknown>) => void,
    branch = 'main',
  ): Promise<TxReceipt> | undefined {
    const f = this.followed.get(JSON.stringify([docId, branch]));
    if (!f) throw new Error(`subscribe to ${docId} before changing it`);
    const receipt = f.change(fn);
    if (receipt && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        for (const g of this.followed.values()) this.flushDoc(g);
      });
    }
    return receipt;
  }

  /** A transaction of raw writes (SPEC §2 body `writes`), pipelined on the connection. */
  tx(writes: unknown[]): Promise<TxReceipt> {
    const body = { clientTxId: `${this.clientId}:${++this.txCounter}`, writes };
    return new Promise<TxReceipt>((resolve, reject) => {
      this.pending.push({ body, resolve, reject, sent: false });
      this.pump();
    });
  }

  /** Whether a session is open (hello answered). */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once every transaction made so far is durably committed (or refused). */
  synced(): Promise<void> {
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** No transaction waits for a receipt and no local change waits to be sent. */
  private isSynced(): boolean {
    if (this.pending.length > 0) return false;
    for (const f of this.followed.values()) if (f.hasOutgoing || f.inFlight > 0) return false;
    return true;
  }

  private checkSynced(): void {
    if (this.isSynced()) for (const w of this.syncedWaiters.splice(0)) w();
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
    ws.addEventListener('close', (event) => this.lost(ws, event.code));
    ws.addEventListener('error', () => undefined); // 'close' follows
  }

  private async opened(ws: WebSocketLike): Promise<void> {
    const { token } = this.options;
    let current: string | undefined;
    try {
      current = typeof token === 'function' ? await token() : token;
    } catch {
      return ws.close(1000, 'no token');
    }
    const args = { clientId: this.clientId, ...(current ? { token: current } : {}) };
    const hello = await this.call(ws, '/storage/hello', args);
    if (hello.error || ws !== this.socket) return ws.close(1002, 'hello refused');
    this.connected = true;
    this.attempt = 0;
    this.sessions++;
    const limits = (hello.ok as { limits?: { maxInFlightTx?: number } }).limits;
    this.maxInFlight = limits?.maxInFlightTx ?? this.maxInFlight;
    for (const f of this.followed.values()) this.sendSubscribe(f);
    this.pump();
  }

  /** The doc's waiting local changes, as transactions, while it has room in flight. */
  private flushDoc(f: FollowedDoc): void {
    while (f.inFlight < MAX_IN_FLIGHT_PER_DOC && f.hasOutgoing) {
      const batch = f.takeOutgoing(MAX_CHANGES_PER_TX);
      const changes = batch.map((o) => encodeBase64(o.change));
      f.inFlight++;
      const write = { docId: f.docId, branch: f.branch, merge: true, changes };
      this.tx([write]).then(
        (receipt) => this.txDone(f, () => batch.forEach((o) => o.resolve(receipt))),
        (err: CairnClientError) => this.txDone(f, () => batch.forEach((o) => o.reject(err))),
      );
    }
  }

  private txDone(f: FollowedDoc, settle: () => void): void {
    f.inFlight--;
    settle();
    this.flushDoc(f);
    this.checkSynced();
  }

  /** Sends waiting transactions, in order, up to the server's in-flight cap. */
  private pump(): void {
    if (!this.connected) return;
    for (const p of this.pending) {
      if (this.inFlight >= this.maxInFlight) return;
      if (!p.sent) this.sendTx(p);
    }
  }

  private lost(ws: WebSocketLike, code?: number): void {
    if (ws !== this.socket) return;
    this.connected = false;
    this.socket = undefined;
    // Unanswered transactions go again on the next session (their clientTxIds
    // make that safe: the server answers a committed one from its record).
    for (const p of this.pending) p.sent = false;
    this.inFlight = 0;
    for (const resolve of this.calls.values()) {
      resolve({
        type: 'task/return',
        error: { code: 'StorageUnavailable', message: 'disconnected' },
      });
    }
    this.calls.clear();
    if (this.closed) return;
    // The token lapsed (SPEC §6): a fresh one is fetched for the next
    // session, which may start at once.
    const refresh = code === CLOSE_TOKEN_EXPIRED && typeof this.options.token === 'function';
    const delay = refresh ? 0 : backoffDelayMs(this.attempt++, this.backoff);
    setTimeout(() => this.connect(), delay);
  }

  private call(ws: WebSocketLike, cmd: string, args: unknown): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.calls.set(id, resolve);
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ id, cmd, args }));
    });
  }

  private sendSubscribe(f: FollowedDoc): void {
    const ws = this.socket as WebSocketLike;
    f.applyInbox();
    const args = { docId: f.docId, branch: f.branch, sinceEpoch: f.epoch };
    void this.call(ws, '/storage/subscribe', args);
  }

  private sendTx(p: PendingTx): void {
    p.sent = true;
    this.inFlight++;
    void this.call(this.socket as WebSocketLike, '/storage/tx', p.body).then((a) => {
      if (a.error?.code === 'StorageUnavailable' && a.error.message === 'disconnected') return;
      this.inFlight--;
      this.pending.splice(this.pending.indexOf(p), 1);
      if (a.error) p.reject(new CairnClientError(a.error.code, a.error.message, a.error));
      else p.resolve(a.ok as TxReceipt);
      this.checkSynced();
      this.pump();
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
      f.received({ kind: entry.kind === 'snapshot' ? 'snapshot' : 'changes', bytes, epoch });
    }
    // Frames that arrive together are applied together, after this task;
    // and applying takes at most half the time: an apply that took d ms is
    // followed by at least d ms of collecting. Automerge's cost per apply
    // call grows with the doc, so a burst into a large doc is applied in a
    // few large calls instead of many small ones.
    if (!this.applyScheduled) {
      this.applyScheduled = true;
      const waitMs = Math.max(0, this.lastApplyEndMs + this.lastApplyMs - Date.now());
      setTimeout(() => this.applyDeliveries(), waitMs);
    }
  }

  private applyDeliveries(): void {
    this.applyScheduled = false;
    const startMs = Date.now();
    this.applyAll();
    this.lastApplyEndMs = Date.now();
    this.lastApplyMs = this.lastApplyEndMs - startMs;
  }

  private applyAll(): void {
    let epoch = 0;
    for (const f of this.followed.values()) {
      f.applyInbox();
      if (f.unnotified) f.notify();
      epoch = Math.max(epoch, f.epoch);
    }
    // Acknowledged only once applied: what the client acks, it holds.
    if (epoch > 0 && this.socket?.readyState === OPEN) {
      this.socket.send(JSON.stringify({ type: 'ack', epoch }));
    }
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
