import * as A from '@automerge/automerge';
import { decode } from 'cborg';
import WebSocket from 'ws';

/** A frame the server sent, parsed. */
export interface ServerFrame {
  type: string;
  /** Whether it came as a binary (CBOR) frame. */
  binary?: boolean;
  id?: string | number | null;
  ok?: Record<string, unknown>;
  error?: { code: string; message: string; [k: string]: unknown };
  epoch?: number;
  docs?: {
    docId: string;
    branch: string;
    seq: number;
    heads: string[];
    kind: string;
    body: string[] | string | Uint8Array[] | Uint8Array;
  }[];
}

const WAIT_MS = 15_000;

/**
 * A raw client of `GET /v1/:space/ws` for tests: sends frames, keeps every
 * frame received in order, and waits (bounded) for answers and deliveries.
 */
export class LiveTestClient {
  readonly frames: ServerFrame[] = [];
  private nextId = 1;
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // Binary frames are CBOR (after hello {encoding: "cbor"}).
      const frame = isBinary ? decode(data as Buffer) : JSON.parse(String(data));
      this.frames.push({ ...(frame as ServerFrame), binary: isBinary });
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  static async connect(baseUrl: string, space: string): Promise<LiveTestClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/${space}/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new LiveTestClient(ws);
  }

  /** Sends an invocation; resolves with its `task/return`. */
  async call(cmd: string, args: unknown = {}): Promise<ServerFrame> {
    const id = this.nextId++;
    this.sendJson({ id, cmd, args });
    return this.waitFor((f) => f.type === 'task/return' && f.id === id);
  }

  async hello(clientId = 'test-client'): Promise<ServerFrame> {
    return this.call('/storage/hello', { clientId });
  }

  sendJson(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Deliver frames received so far. */
  deliveries(): ServerFrame[] {
    return this.frames.filter((f) => f.type === 'deliver');
  }

  /** The first frame (received or to come) matching `pred`, within 15 s. */
  async waitFor(pred: (f: ServerFrame) => boolean): Promise<ServerFrame> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.frames.find(pred);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) before the frame came`);
      if (Date.now() > deadline) throw new Error('frame did not come within 15 s');
      await this.nextEvent();
    }
  }

  /** Waits (at most 15 s) for the server to close the socket; its code and reason. */
  async waitClosed(): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + WAIT_MS;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed within 15 s');
      await this.nextEvent();
    }
    return this.closed;
  }

  /** Waits until `count` frames match `pred`. */
  async waitForCount(pred: (f: ServerFrame) => boolean, count: number): Promise<ServerFrame[]> {
    await this.waitFor(() => this.frames.filter(pred).length >= count);
    return this.frames.filter(pred);
  }

  close(): void {
    this.ws.close();
  }

  /** Resolves at the next frame or close, or after 200 ms (the callers re-check their deadline). */
  private nextEvent(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 200);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Applies the deliveries of `docId` (every doc when omitted) onto `doc0` as a
 * client would: a snapshot merged in, changes applied in one call each.
 */
export function applyDeliveries(
  doc0: A.Doc<Record<string, unknown>>,
  frames: readonly ServerFrame[],
  docId?: string,
): A.Doc<Record<string, unknown>> {
  let doc = doc0;
  for (const f of frames) {
    for (const d of f.docs ?? []) {
      if (docId !== undefined && d.docId !== docId) continue;
      if (d.kind === 'snapshot')
        doc = A.merge(doc, A.load(Buffer.from(d.body as string, 'base64')));
      else
        [doc] = A.applyChanges(
          doc,
          (d.body as string[]).map((x) => Buffer.from(x, 'base64')),
        );
    }
  }
  return doc;
}
