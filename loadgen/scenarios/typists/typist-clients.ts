import * as A from '@automerge/automerge';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { HocuspocusClient } from '../../../bench/lib/hocuspocus-client.js';
import { CairnClient, type WebSocketLike } from '../../../src/client/index.js';
import { counterKey, typistOfKey, type TargetKind } from './schedule.js';

/**
 * One typist's connection, whatever the server: it types one character per
 * keystroke at its own cursor and sets its counter to the keystroke number
 * in the same change (Automerge: one change in the doc's root; Yjs: one
 * `transact` on the `content` text and the `typists` map), and reports
 * every other typist's counter as it becomes visible in its local doc.
 */
export interface TypistConn {
  /** Resolves once connected and holding the doc (bounded by the caller). */
  ready(): Promise<void>;
  type(k: number): void;
  close(): void;
}

/**
 * Called when typist `g`'s counter is seen at `k` (other typists only):
 * `delivered` when a frame holding it reached this typist's socket,
 * `visible` when it is in the local doc. (A Yjs provider applies an update
 * as it arrives: both at once.)
 */
export type OnRemote = (g: number, k: number, what: 'delivered' | 'visible') => void;

export interface TypistOptions {
  kind: TargetKind;
  /** cairn: `http://127.0.0.1:port`; peers: `ws://127.0.0.1:port`. */
  url: string;
  space: string;
  docId: string;
  /** This typist's index in the doc, and how many share it. */
  g: number;
  typists: number;
  /** Where its cursor starts (a fraction of the text). */
  cursorAt: number;
  onRemote: OnRemote;
}

const TEXT = 'content';
const COUNTERS = 'typists';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz ';

export function connectTypist(o: TypistOptions): TypistConn {
  return o.kind === 'cairn-automerge' ? automergeTypist(o) : yjsTypist(o);
}

/**
 * `ws`, with a tap on the frames that arrive: a `deliver` frame's changes
 * are decoded to find the typists' counters in them, so delivery is timed
 * apart from the client library's applying (which batches on purpose).
 */
function tappedWebSocket(o: TypistOptions): new (url: string) => WebSocketLike {
  const onFrame = (text: string) => {
    if (!text.startsWith('{"type":"deliver"')) return;
    const frame = JSON.parse(text) as { docs: { kind: string; body: string | string[] }[] };
    for (const entry of frame.docs) {
      if (entry.kind !== 'changes' || !Array.isArray(entry.body)) continue;
      for (const b64 of entry.body) {
        for (const op of A.decodeChange(Buffer.from(b64, 'base64')).ops) {
          const g =
            op.obj === '_root' && typeof op.key === 'string' ? typistOfKey(op.key) : undefined;
          if (g !== undefined && g !== o.g && typeof op.value === 'number') {
            o.onRemote(g, op.value, 'delivered');
          }
        }
      }
    }
  };
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      // Registered before the client's own listener: it runs first.
      this.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        if (!isBinary) onFrame(String(data));
      });
    }
  } as unknown as new (url: string) => WebSocketLike;
}

/** Through the project's client library (SPEC §6 WebSocket, one tx per keystroke). */
function automergeTypist(o: TypistOptions): TypistConn {
  const client = new CairnClient({ url: o.url, space: o.space, WebSocket: tappedWebSocket(o) });
  const seen = new Array<number>(o.typists).fill(-1);
  let hasText: (() => void) | undefined;
  let cursor = -1;
  let own = 0;
  client.subscribe(o.docId, (doc) => {
    if (hasText && typeof doc[TEXT] === 'string') hasText();
    for (let g = 0; g < o.typists; g++) {
      if (g === o.g) continue;
      const k = doc[counterKey(g)];
      if (typeof k === 'number' && k > (seen[g] as number)) {
        seen[g] = k;
        o.onRemote(g, k, 'visible');
      }
    }
  });
  return {
    ready: () =>
      new Promise<void>((resolve) => {
        hasText = () => {
          hasText = undefined;
          resolve();
        };
        if (typeof client.doc(o.docId)?.[TEXT] === 'string') hasText();
      }),
    type(k) {
      void client
        .change(o.docId, (d) => {
          // Every keystroke inserts one character: the local text holds one per
          // keystroke seen (reading the text itself would build the whole string).
          const length = seen.reduce((n, x) => n + x + 1, 0) + own;
          if (cursor < 0 || cursor > length) cursor = Math.floor(o.cursorAt * length);
          A.splice(d as A.Doc<Record<string, unknown>>, [TEXT], cursor++, 0, LETTERS[k % 27]);
          d[counterKey(o.g)] = k;
          own++;
        })
        ?.catch(() => undefined); // a refused keystroke shows as a delivery never seen
    },
    close: () => client.close(),
  };
}

type ProviderOptions = NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>;

/** The stock y-websocket provider (cairn, y-websocket server) or the Hocuspocus protocol. */
function yjsTypist(o: TypistOptions): TypistConn {
  const doc = new Y.Doc();
  const text = doc.getText(TEXT);
  const counters = doc.getMap<number>(COUNTERS);
  counters.observe((event) => {
    if (event.transaction.local) return;
    for (const key of event.keysChanged) {
      const g = typistOfKey(key);
      const k = counters.get(key);
      if (g === undefined || g === o.g || k === undefined) continue;
      o.onRemote(g, k, 'delivered');
      o.onRemote(g, k, 'visible');
    }
  });
  let ready: () => Promise<void>;
  let close: () => void;
  if (o.kind === 'hocuspocus') {
    const client = new HocuspocusClient(o.url, o.docId, doc);
    ready = () => client.whenSynced();
    close = () => client.close();
  } else {
    // cairn: `ws://host/v1/<space>/yjs` + the doc id; y-websocket: the room name.
    const base =
      o.kind === 'cairn-yjs' ? `${o.url.replace(/^http/, 'ws')}/v1/${o.space}/yjs` : o.url;
    const provider = new WebsocketProvider(base, encodeURIComponent(o.docId), doc, {
      WebSocketPolyfill: WebSocket as unknown as ProviderOptions['WebSocketPolyfill'],
      disableBc: true,
    });
    ready = () =>
      provider.synced
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const on = (isSynced: boolean) => {
              if (!isSynced) return;
              provider.off('sync', on);
              resolve();
            };
            provider.on('sync', on);
          });
    close = () => provider.destroy();
  }
  let cursor = -1;
  return {
    ready,
    type(k) {
      doc.transact(() => {
        if (cursor < 0 || cursor > text.length) cursor = Math.floor(o.cursorAt * text.length);
        text.insert(cursor++, LETTERS[k % 27] as string);
        counters.set(counterKey(o.g), k);
      });
    },
    close() {
      close();
      doc.destroy();
    },
  };
}
