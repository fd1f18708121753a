import net from 'node:net';
import fc from 'fast-check';
import type { FuzzAnswer } from './fuzz-http-client.js';

/**
 * HTTP/1.1 below what an HTTP client lets one send: request heads with
 * headers over the server's limit, control bytes, bad request lines,
 * conflicting or impossible lengths and broken chunked bodies, written to
 * a socket byte for byte; and a parser for the one answer that comes back.
 */

const ANSWER_TIMEOUT_MS = 15_000;

/** What came back: an answer, or the connection closed without one. */
export type RawOutcome = { kind: 'answer'; answer: FuzzAnswer } | { kind: 'closed' };

/** Writes `bytes`, half-closes, and reads until the server closes (bounded). */
export function sendRaw(port: number, bytes: Buffer): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset after (or instead of) the answer is the server closing: judge what came.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      resolve(all.length === 0 ? { kind: 'closed' } : { kind: 'answer', answer: parseAnswer(all) });
    });
    socket.end(bytes);
  });
}

/** The first HTTP answer in `bytes` (Content-Length or chunked body). */
export function parseAnswer(bytes: Buffer): FuzzAnswer {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0)
    throw new Error(
      `not an HTTP answer: ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`,
    );
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN);
  if (!Number.isInteger(status)) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  let rest = bytes.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const nl = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    rest = rest.subarray(0, Number(headers['content-length']));
  }
  return { status, headers, body: rest.toString('utf8') };
}

const token = fc.constantFrom(
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'G ET',
  'get',
  '\u0000',
  'CONNECT',
  'PRI',
  '',
);
const version = fc.constantFrom(
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTX/1.1',
  'HTTP/1.1 extra',
  '',
);
const headerName = fc.oneof(
  fc.constantFrom(
    'X-A',
    'Content-Length',
    'Transfer-Encoding',
    'Host',
    'Content-Type',
    'X-Request-Id',
  ),
  fc.constantFrom('Bad Name', 'Bad\u0001Name', '', ':', 'X-\u00ff'),
);
const headerValue = fc.oneof(
  fc.constantFrom('0', '5', '-1', '99999999999999999999', 'chunked', 'gzip, chunked', 'abc'),
  fc.constantFrom('\u0000', 'a\rb', 'a\nb', '\u00ff\u00fe', 'application/json'),
  fc.integer({ min: 9_000, max: 40_000 }).map((n) => 'v'.repeat(n)),
);
const body = fc.constantFrom(
  '',
  '{}',
  '{"writes":[]}',
  'zz\r\n{}\r\n0\r\n\r\n',
  '2\r\n{}\r\n0\r\n\r\n',
  '\u00ff\u0000',
);

/** Raw request heads (and bodies) to `paths`, the HTTP framing itself garbled. */
export function rawRequests(paths: string[]): fc.Arbitrary<Buffer> {
  return fc
    .record({
      method: token,
      path: fc.oneof(
        fc.constantFrom(...paths),
        fc.constantFrom('*', '', 'http://x/healthz', '/%', '//'),
      ),
      version,
      headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
      body,
    })
    .map(({ method, path, version, headers, body }) => {
      const head = [`${method} ${path} ${version}`, 'Host: 127.0.0.1'];
      for (const [name, value] of headers) head.push(`${name}: ${value}`);
      head.push('Connection: close');
      return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    });
}
