import WebSocket from 'ws';

/**
 * A raw WebSocket for the fuzz suites: sends any frame (text, binary,
 * invalid UTF-8 as text), keeps every frame received and the close code,
 * and waits — bounded — for a condition or the close.
 */

const WAIT_MS = 15_000;

/** Close codes a server may end a hostile session with (RFC 6455 §7.4, SPEC §6/§7). */
export const PROPER_CLOSE_CODES = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009, 4001, 4008]);

export interface Received {
  data: Buffer;
  binary: boolean;
}

export class FuzzSocket {
  readonly frames: Received[] = [];
  closed: { code: number; reason: string } | undefined;
  private wake: (() => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary) => {
      this.frames.push({ data, binary });
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake?.();
    });
    // Errors (a reset, a protocol error) end in 'close' too; the code tells.
    ws.on('error', () => undefined);
  }

  /** Opens `url` (ws://…); rejects if the upgrade is refused. */
  static open(url: string): Promise<FuzzSocket> {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no upgrade within ${WAIT_MS} ms`)), WAIT_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new FuzzSocket(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends a frame unless the socket is already closing. */
  send(data: string | Uint8Array, binary = typeof data !== 'string'): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary });
  }

  /** Resolves 'matched' once `pred` holds, 'closed' if the socket closes first; rejects after 15 s. */
  async until(pred: () => boolean): Promise<'matched' | 'closed'> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (pred()) return 'matched';
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`neither an answer nor a close within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Closes (bounded: terminates if the close handshake does not finish). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    if ((await this.until(() => false).catch(() => 'timeout')) !== 'closed') this.ws.terminate();
  }
}
