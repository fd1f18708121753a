import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import * as Y from 'yjs';

const WAIT_MS = 15_000;

/**
 * The stock y-websocket client provider on Node, as SPEC §11 says a user
 * connects it: `ws` as its WebSocket, no BroadcastChannel (providers in one
 * process would otherwise sync around the server).
 */
export function connectProvider(
  baseUrl: string,
  space: string,
  docId: string,
  params: Record<string, string> = {},
): { doc: Y.Doc; provider: WebsocketProvider; close(): void } {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(
    `${baseUrl.replace(/^http/, 'ws')}/v1/${space}/yjs`,
    encodeURIComponent(docId),
    doc,
    { WebSocketPolyfill: WebSocket as never, disableBc: true, params },
  );
  return {
    doc,
    provider,
    close: () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** Resolves once the provider has synced with the server (bounded). */
export function synced(provider: WebsocketProvider): Promise<void> {
  if (provider.synced) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('provider did not sync within 15 s')), WAIT_MS);
    provider.once('sync', (isSynced: boolean) => {
      if (!isSynced) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Waits (bounded) until `check` holds, re-checking on every update of `doc` and every 50 ms. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
