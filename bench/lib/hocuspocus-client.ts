import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';

/**
 * A minimal client of the Hocuspocus wire protocol (server 4.x), for the
 * benches: `@hocuspocus/provider` is not installed here, and the stock
 * y-websocket provider cannot talk to Hocuspocus (every Hocuspocus message
 * starts with the document name). What it does is what the provider does
 * for one document on one socket, without awareness:
 *
 * - on open: an Auth message (token "", no `onAuthenticate` hook on the
 *   bench server) and sync step 1 (the server queues it until the auth);
 * - sync messages (y-protocols): answers the server's step 1 with step 2,
 *   applies step 2 (then `synced`) and updates;
 * - every local update of the doc goes out as a sync update;
 * - counts the server's SyncStatus acks (one per update it applied).
 *
 * Message types (Hocuspocus `MessageType`): Sync 0, Awareness 1, Auth 2,
 * QueryAwareness 3, SyncReply 4, Stateless 5, CLOSE 7, SyncStatus 8; auth
 * subtypes Token 0, PermissionDenied 1, Authenticated 2.
 */
const SYNC = 0;
const AUTH = 2;
const SYNC_REPLY = 4;
const SYNC_STATUS = 8;
const AUTH_TOKEN = 0;
const AUTH_PERMISSION_DENIED = 1;

export class HocuspocusClient {
  synced = false;
  /** SyncStatus messages received: updates the server says it applied. */
  acks = 0;
  private readonly ws: WebSocket;
  private readonly waiters: (() => void)[] = [];
  private error: Error | undefined;

  constructor(
    url: string,
    readonly name: string,
    readonly doc: Y.Doc,
  ) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('open', () => {
      this.send((e) => {
        encoding.writeVarUint(e, AUTH);
        encoding.writeVarUint(e, AUTH_TOKEN);
        encoding.writeVarString(e, '');
      });
      this.send((e) => {
        encoding.writeVarUint(e, SYNC);
        syncProtocol.writeSyncStep1(e, this.doc);
      });
    });
    this.ws.on('message', (data: Buffer) => this.onMessage(new Uint8Array(data)));
    this.ws.on('error', (err) => this.fail(err));
    this.ws.on('close', (code, reason) => {
      if (!this.synced) this.fail(new Error(`closed before sync: ${code} ${String(reason)}`));
    });
    doc.on('update', this.onUpdate);
  }

  /** Resolves once the first sync step 2 arrived (rejects when the socket fails first). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiters.push(() => (this.error ? reject(this.error) : resolve()));
    });
  }

  close(): void {
    this.doc.off('update', this.onUpdate);
    this.ws.close();
  }

  private readonly onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === this) return;
    this.send((e) => {
      encoding.writeVarUint(e, SYNC);
      syncProtocol.writeUpdate(e, update);
    });
  };

  private onMessage(data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    decoding.readVarString(decoder); // the document name (one document per client)
    const type = decoding.readVarUint(decoder);
    if (type === SYNC || type === SYNC_REPLY) {
      const e = encoding.createEncoder();
      encoding.writeVarString(e, this.name);
      encoding.writeVarUint(e, SYNC);
      const before = encoding.length(e);
      const step = syncProtocol.readSyncMessage(decoder, e, this.doc, this);
      if (encoding.length(e) > before && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(encoding.toUint8Array(e));
      }
      if (step === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.wake();
      }
      return;
    }
    if (type === SYNC_STATUS) {
      this.acks++;
      return;
    }
    if (type === AUTH && decoding.readVarUint(decoder) === AUTH_PERMISSION_DENIED) {
      this.fail(new Error(`permission denied: ${decoding.readVarString(decoder)}`));
    }
    // Awareness, query-awareness, stateless: not used by the benches.
  }

  private send(write: (e: encoding.Encoder) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const e = encoding.createEncoder();
    encoding.writeVarString(e, this.name);
    write(e);
    this.ws.send(encoding.toUint8Array(e));
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
