import http from 'node:http';

/** An HTTP answer: status, the body parsed as JSON (undefined when empty or not a JSON object) and as text. */
export interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** A transport failure or timeout: `code` is e.g. `Timeout`, `ECONNRESET`. */
export class HttpFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpClientOptions {
  /** Sockets kept to the server (keep-alive), default 256. */
  maxSockets?: number;
  /** Per request, from the call (socket wait included), default 15 s. */
  timeoutMs?: number;
}

/**
 * JSON over loopback HTTP/1.1 with one keep-alive agent: requests beyond
 * `maxSockets` queue in the agent (and that wait is part of their latency).
 */
/** When each socket last finished a request (to tell a reused idle socket in a failure). */
const lastUsed = new WeakMap<object, number>();

export class HttpClient {
  readonly agent: http.Agent;
  private readonly base: URL;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: HttpClientOptions = {}) {
    this.base = new URL(baseUrl);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(this.base.hostname)) {
      throw new Error(`loadgen only targets loopback, not ${this.base.hostname}`);
    }
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 256,
      maxFreeSockets: options.maxSockets ?? 256,
      scheduling: 'lifo',
      // Idle sockets close after 4 s, before the server's 5 s keep-alive: a
      // request must never race the server closing its socket. (Node 20's
      // agent honours the server's `Keep-Alive: timeout=5` hint only when a
      // timeout of its own is set.)
      timeout: 4_000,
    });
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** The server's base URL, e.g. `http://127.0.0.1:8787` (for clients of other kinds). */
  get baseUrl(): string {
    return this.base.origin;
  }

  /** Rejects only with HttpFailure (transport or timeout); any status resolves. */
  request(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          agent: this.agent,
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': payload.byteLength }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => fail(err));
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text && text[0] === '{' ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      let idleMs: number | undefined;
      req.once('socket', (socket) => {
        const last = lastUsed.get(socket);
        idleMs = last === undefined ? undefined : performance.now() - last;
        socket.once('free', () => lastUsed.set(socket, performance.now()));
      });
      const fail = (err: Error & { code?: string }) => {
        clearTimeout(timer);
        if (err instanceof HttpFailure) return reject(err);
        const socket =
          idleMs === undefined
            ? 'a new socket'
            : `a socket reused after ${Math.round(idleMs)} ms idle`;
        reject(new HttpFailure(err.code ?? 'Transport', `${err.message} on ${socket}`));
      };
      const timer = setTimeout(
        () => req.destroy(new HttpFailure('Timeout', `no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      req.on('error', fail);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The SPEC §9 error code of an answer (`error.code`), else `HTTP<status>`. */
export function errorCodeOf(answer: HttpAnswer): string {
  const err = (answer.body as { error?: { code?: unknown } } | undefined)?.error;
  return typeof err?.code === 'string' ? err.code : `HTTP${answer.status}`;
}
