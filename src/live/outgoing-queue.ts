/** The socket as a live session writes to it (a `ws` WebSocket in the server). */
export interface LiveSocket {
  /** `binary: false` sends bytes as a text frame (UTF-8 JSON). */
  send(data: string | Uint8Array, options: { binary: boolean }): void;
  /** Bytes accepted by `send` and not yet written to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

/** SPEC §6: no writes while the socket buffers more than this. */
const SOCKET_HIGH_WATER_BYTES = 1024 * 1024;
const FLUSH_RETRY_MS = 10;

interface Outgoing {
  data: string | Uint8Array;
  /** A live delivery: may be dropped, the connection then sends one catch-up instead. */
  droppable: boolean;
  /** Called when the frame is handed to the socket. */
  onSent: (() => void) | undefined;
}

const sizeOf = (data: string | Uint8Array) =>
  typeof data === 'string' ? data.length : data.byteLength;

/**
 * One connection's outgoing frames, in order. Two classes share the order:
 * live deliveries, which count against the delivery caps and may be dropped
 * (the connection replaces them with one catch-up per doc), and frames that
 * must go out as they are (answers, a `get`'s doc, a catch-up), which have a
 * byte budget of their own. The socket is written only while it buffers
 * ≤ 1 MiB; the rest waits here and is retried every 10 ms.
 */
export class OutgoingQueue {
  private readonly out: Outgoing[] = [];
  private deliveries = 0;
  private deliveryBytes = 0;
  private keptBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private onDrained: (() => void) | undefined;

  constructor(
    private readonly socket: LiveSocket,
    private readonly caps: { frames: number; bytes: number },
    /** Whether frames go as binary (a CBOR session). */
    private readonly binary: () => boolean,
  ) {}

  /**
   * A frame that must go out as it is; false (and nothing queued) when such
   * frames already hold the byte budget (a client that does not read its
   * answers). One frame alone is always taken, however large.
   */
  keep(data: string | Uint8Array, onSent?: () => void): boolean {
    const size = sizeOf(data);
    if (this.keptBytes > 0 && this.keptBytes + size > this.caps.bytes) return false;
    this.keptBytes += size;
    this.push({ data, droppable: false, onSent });
    return true;
  }

  /** A live delivery; false (and nothing queued) when it would pass the caps. */
  delivery(data: string | Uint8Array, onSent?: () => void): boolean {
    const size = sizeOf(data);
    if (this.deliveries + 1 > this.caps.frames || this.deliveryBytes + size > this.caps.bytes) {
      return false;
    }
    this.deliveries++;
    this.deliveryBytes += size;
    this.push({ data, droppable: true, onSent });
    return true;
  }

  /** Drops every queued delivery (the connection sends a catch-up instead). */
  dropDeliveries(): void {
    const kept = this.out.filter((f) => !f.droppable);
    this.out.length = 0;
    this.out.push(...kept);
    this.deliveries = 0;
    this.deliveryBytes = 0;
  }

  /**
   * Calls `fn` once, when every queued frame is on the socket and the socket
   * buffers ≤ 1 MiB again (the client is reading).
   */
  whenDrained(fn: () => void): void {
    this.onDrained = fn;
    this.flush();
  }

  /** Drops what is queued; nothing more is written. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.out.length = 0;
    this.onDrained = undefined;
  }

  /** Deliveries waiting for the socket (for tests and metrics). */
  get queued(): { frames: number; bytes: number; keptBytes: number } {
    return { frames: this.deliveries, bytes: this.deliveryBytes, keptBytes: this.keptBytes };
  }

  private push(frame: Outgoing): void {
    if (this.stopped) return;
    this.out.push(frame);
    this.flush();
  }

  private flush(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.out.length > 0 && this.socket.bufferedAmount <= SOCKET_HIGH_WATER_BYTES) {
      const frame = this.out.shift() as Outgoing;
      const size = sizeOf(frame.data);
      if (frame.droppable) {
        this.deliveries--;
        this.deliveryBytes -= size;
      } else {
        this.keptBytes -= size;
      }
      this.socket.send(frame.data, { binary: this.binary() });
      frame.onSent?.();
    }
    const drained = this.out.length === 0 && this.socket.bufferedAmount <= SOCKET_HIGH_WATER_BYTES;
    if (drained && this.onDrained) {
      const fn = this.onDrained;
      this.onDrained = undefined;
      fn();
    } else if (this.out.length > 0 || this.onDrained) {
      // Frames are waiting, or someone waits for the socket to empty.
      this.timer = setTimeout(() => this.flush(), FLUSH_RETRY_MS);
    }
  }
}
