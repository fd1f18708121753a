import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { WebSocket } from 'ws';
import * as Y from 'yjs';
import * as authProtocol from 'y-protocols/auth';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { Logger } from '../core/logger.js';
import { checkUpdate } from '../crdt/yjs/yjs-update.js';
import type { OpenYjsDoc, YjsPeer } from './open-doc.js';

/** Message types of the y-websocket protocol (y-protocols). */
const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_AUTH = 2;
const MESSAGE_QUERY_AWARENESS = 3;
const SYNC_STEP_1 = 0;
const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;

/** Close codes: the token expired (SPEC §7), a frame that is not the protocol. */
export const CLOSE_TOKEN_EXPIRED = 4001;
const CLOSE_BAD_FRAME = 1007;

export interface YjsSessionOptions {
  canWrite: boolean;
  /** When the token stops being valid (ms since the epoch; Infinity: never). */
  expiresAtMs: number;
  logger: Logger;
}

/**
 * One y-websocket connection to a doc (SPEC §11): sync step 1/2 and
 * updates, awareness relayed and never stored, query-awareness, and an auth
 * message "permission-denied" for an update from a session that may only
 * read. Every update is committed before anyone else sees it (OpenYjsDoc).
 */
export class YjsWsSession implements YjsPeer {
  /** Awareness client ids this connection announced (removed for the others when it closes). */
  private readonly clients = new Set<number>();
  private expiry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly doc: OpenYjsDoc,
    private readonly options: YjsSessionOptions,
  ) {
    doc.peers.add(this);
    doc.awareness.on('update', this.trackClients);
    if (Number.isFinite(options.expiresAtMs)) {
      const inMs = Math.max(0, options.expiresAtMs - Date.now());
      // setTimeout's range is 2^31-1 ms; a later expiry is checked again then.
      this.expiry = setTimeout(() => this.expire(), Math.min(inMs, 2 ** 31 - 1));
      this.expiry.unref();
    }
  }

  /** Greets the client: the server's sync step 1, and who else is here. */
  async start(): Promise<void> {
    const sv = await this.doc.read((d) => Y.encodeStateVector(d));
    this.send(frame(MESSAGE_SYNC, (e) => writeBytes(e, SYNC_STEP_1, sv)));
    const states = [...this.doc.awareness.getStates().keys()];
    if (states.length > 0) {
      const update = awarenessProtocol.encodeAwarenessUpdate(this.doc.awareness, states);
      this.sendAwareness(update);
    }
  }

  /** One binary frame from the client. */
  onMessage(data: Uint8Array): void {
    try {
      const decoder = decoding.createDecoder(data);
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) return this.onSync(decoder);
      if (type === MESSAGE_AWARENESS) {
        return this.doc.applyAwareness(decoding.readVarUint8Array(decoder), this);
      }
      if (type === MESSAGE_QUERY_AWARENESS) {
        const states = [...this.doc.awareness.getStates().keys()];
        return this.sendAwareness(
          awarenessProtocol.encodeAwarenessUpdate(this.doc.awareness, states),
        );
      }
      if (type === MESSAGE_AUTH) return; // clients do not authenticate in-band here
      this.ws.close(CLOSE_BAD_FRAME, `unknown message type ${type}`);
    } catch (err) {
      this.options.logger.debug({ err }, 'y-websocket frame refused');
      this.ws.close(CLOSE_BAD_FRAME, 'not a y-websocket frame');
    }
  }

  sendUpdate(update: Uint8Array): void {
    this.send(frame(MESSAGE_SYNC, (e) => writeBytes(e, SYNC_UPDATE, update)));
  }

  sendAwareness(update: Uint8Array): void {
    this.send(frame(MESSAGE_AWARENESS, (e) => encoding.writeVarUint8Array(e, update)));
  }

  /** The socket closed: this connection's presence goes for the others. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry);
    this.doc.peers.delete(this);
    this.doc.awareness.off('update', this.trackClients);
    awarenessProtocol.removeAwarenessStates(this.doc.awareness, [...this.clients], null);
  }

  private onSync(decoder: decoding.Decoder): void {
    const step = decoding.readVarUint(decoder);
    const bytes = decoding.readVarUint8Array(decoder);
    if (step === SYNC_STEP_1) {
      // A state vector that does not decode is not the protocol (1007, from
      // onMessage) — it used to throw later, inside the read: an unhandled
      // rejection and no answer (test/proof/fuzz-regressions.test.ts).
      Y.decodeStateVector(bytes);
      void this.doc
        .read((d) => Y.encodeStateAsUpdate(d, bytes))
        .then((update) => this.send(frame(MESSAGE_SYNC, (e) => writeBytes(e, SYNC_STEP_2, update))))
        .catch((err: unknown) => {
          this.options.logger.debug({ err }, 'y-websocket sync step 1 refused');
          this.ws.close(CLOSE_BAD_FRAME, 'not a y-websocket frame');
        });
      return;
    }
    if (step !== SYNC_STEP_2 && step !== SYNC_UPDATE) throw new Error(`sync step ${step}`);
    if (!this.options.canWrite) {
      this.send(
        frame(MESSAGE_AUTH, (e) => authProtocol.writePermissionDenied(e, 'read-only token')),
      );
      return;
    }
    checkUpdate(bytes);
    this.doc.update(bytes, this).catch((err: unknown) => {
      this.options.logger.warn({ err, docId: this.doc.docId }, 'y-websocket update refused');
      this.ws.close(CLOSE_BAD_FRAME, 'update refused');
    });
  }

  private readonly trackClients = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (origin !== this) return;
    for (const id of [...changes.added, ...changes.updated]) this.clients.add(id);
    for (const id of changes.removed) this.clients.delete(id);
  };

  private expire(): void {
    if (Date.now() < this.options.expiresAtMs) {
      this.expiry = setTimeout(
        () => this.expire(),
        Math.min(this.options.expiresAtMs - Date.now(), 2 ** 31 - 1),
      );
      return;
    }
    this.ws.close(CLOSE_TOKEN_EXPIRED, 'token expired');
  }

  private send(data: Uint8Array): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(data);
  }
}

function frame(type: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}

function writeBytes(e: encoding.Encoder, step: number, bytes: Uint8Array): void {
  encoding.writeVarUint(e, step);
  encoding.writeVarUint8Array(e, bytes);
}
