/** One server-sent event. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

const WAIT_MS = 15_000;

/**
 * A test reader of an event stream (fetch, as a browser's EventSource would
 * read it): keeps every event in order and waits (bounded) for more.
 */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private readonly abort = new AbortController();
  private ended = false;

  private constructor(readonly status: number) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
    const abort = new AbortController();
    const res = await fetch(url, { headers, signal: abort.signal });
    const client = new SseTestClient(res.status);
    Object.assign(client, { abort });
    if (res.ok && res.body) void client.read(res.body);
    else {
      client.ended = true;
      client.buffer = await res.text();
    }
    return client;
  }

  /** The body of a refused request. */
  get errorBody(): string {
    return this.buffer;
  }

  deliveries(): { epoch: number; docs: { docId: string; kind: string; body: unknown }[] }[] {
    return this.events.filter((e) => e.event === 'deliver').map((e) => JSON.parse(e.data));
  }

  async waitForCount(count: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (this.deliveries().length < count) {
      if (this.ended) throw new Error(`stream ended with ${this.deliveries().length} deliveries`);
      if (Date.now() > deadline) throw new Error(`only ${this.deliveries().length} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
  }

  private parse(block: string): void {
    const event: SseEvent = { event: 'message', data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const at = line.indexOf(': ');
      const [field, value] = at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 2)];
      if (field === 'event') event.event = value;
      else if (field === 'id') event.id = value;
      else if (field === 'data') event.data += value;
    }
    if (block.split('\n').every((l) => l.startsWith(':'))) return;
    this.events.push(event);
  }
}
