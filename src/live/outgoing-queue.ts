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
  delivery: boolean;
}

const sizeOf = (data: string | Uint8Array) =>
  typeof data === 'string' ? data.length : data.byteLength;

/**
 * One connection's outgoing frames, in order: answers and deliveries share
 * the order (a get's deliveries before its answer), but only deliveries count
 * against the caps. The socket is written only while it buffers ≤ 1 MiB; the
 * rest waits here and is retried every 10 ms.
 */
export class OutgoingQueue {
  private readonly out: Outgoing[] = [];
  private deliveries = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly socket: LiveSocket,
    private readonly caps: { frames: number; bytes: number },
    /** Whether frames go as binary (a CBOR session). */
    private readonly binary: () => boolean,
  ) {}

  /** An answer (task/return): never refused, never counted. */
  answer(data: string | Uint8Array): void {
    this.push({ data, delivery: false });
  }

  /** A delivery frame; false (and nothing queued) when it would pass the caps. */
  delivery(data: string | Uint8Array): boolean {
    const size = sizeOf(data);
    if (this.deliveries + 1 > this.caps.frames || this.bytes + size > this.caps.bytes) return false;
    this.deliveries++;
    this.bytes += size;
    this.push({ data, delivery: true });
    return true;
  }

  /** Drops what is queued; nothing more is written. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.out.length = 0;
  }

  /** Deliveries waiting for the socket (for tests and metrics). */
  get queued(): { frames: number; bytes: number } {
    return { frames: this.deliveries, bytes: this.bytes };
  }

  private push(frame: Outgoing): void {
    if (this.stopped) return;
    this.out.push(frame);
    this.flush();
  }

  private flush(): void {
    this.timer = undefined;
    while (this.out.length > 0 && this.socket.bufferedAmount <= SOCKET_HIGH_WATER_BYTES) {
      const frame = this.out.shift() as Outgoing;
      if (frame.delivery) {
        this.deliveries--;
        this.bytes -= sizeOf(frame.data);
      }
      this.socket.send(frame.data, { binary: this.binary() });
    }
    if (this.out.length > 0 && !this.timer && !this.stopped) {
      this.timer = setTimeout(() => this.flush(), FLUSH_RETRY_MS);
    }
  }
}
