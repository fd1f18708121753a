import http from 'node:http';
import { ERROR_STATUS } from '../../../src/server/error-status.js';
import { looksLikeStackTrace } from '../../helpers/server-process.js';

/**
 * The HTTP side of the fuzz suites: one request sent exactly as generated
 * (raw path, repeated headers, any bytes as body) and the SPEC §9 check of
 * its answer.
 */

export interface FuzzRequest {
  method: string;
  /** Sent as is: percent-encoding, dot segments and all. */
  path: string;
  /** A list value sends the header once per item. */
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface FuzzAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Sends one request on a fresh connection; resolves with the whole answer. */
export function send(port: number, req: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const headers: Record<string, string | string[]> = { connection: 'close', ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(req.body.byteLength);
    const out = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers },
      (res) => {
        responded = true;
        // An event stream never ends: its status and headers are the answer.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    out.setTimeout(REQUEST_TIMEOUT_MS, () => out.destroy(new Error('no answer within 30 s')));
    // An early answer (413 before the upload ends) wins over the EPIPE that may follow.
    out.on('error', (err) => {
      if (!responded) reject(err);
    });
    out.end(req.body);
  });
}

/** A short description of a request for failure messages. */
export function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.byteLength}B)=${preview(req.body)}`;
  return `${req.method} ${req.path.slice(0, 300)} headers=${JSON.stringify(req.headers).slice(0, 300)}${body}`;
}

function preview(body: Buffer): string {
  return JSON.stringify(body.subarray(0, 200).toString('latin1'));
}

/**
 * The fuzz property of one HTTP answer: never a 5xx; every error is the
 * SPEC §9 envelope with the status of its code and the request's id; no
 * stack trace in any body (a 2xx body may echo what the request sent).
 */
export function checkAnswer(req: FuzzRequest, ans: FuzzAnswer): void {
  const what = () => `${describeRequest(req)}\n=> ${ans.status} ${ans.body.slice(0, 500)}`;
  if (ans.status >= 500) throw new Error(`5xx answer: ${what()}`);
  if (typeof ans.headers['x-request-id'] !== 'string')
    throw new Error(`no X-Request-Id: ${what()}`);
  if (req.method === 'HEAD') return;
  if (ans.status >= 400) {
    let env: { ok?: unknown; error?: { code?: unknown; message?: unknown; requestId?: unknown } };
    try {
      env = JSON.parse(ans.body) as typeof env;
    } catch {
      throw new Error(`error body is not JSON: ${what()}`);
    }
    const code = env.error?.code;
    if (env.ok !== false || typeof code !== 'string' || !(code in ERROR_STATUS)) {
      throw new Error(`not a typed error envelope: ${what()}`);
    }
    if (ERROR_STATUS[code as keyof typeof ERROR_STATUS] !== ans.status) {
      throw new Error(`status does not match code ${code}: ${what()}`);
    }
    if (typeof env.error?.message !== 'string' || env.error.message === '') {
      throw new Error(`error without message: ${what()}`);
    }
    if (env.error.requestId !== ans.headers['x-request-id']) {
      throw new Error(`error.requestId is not the X-Request-Id header: ${what()}`);
    }
    if (looksLikeStackTrace(ans.body)) throw new Error(`stack trace in an error: ${what()}`);
    return;
  }
  const sent = `${req.path} ${req.body?.toString('utf8') ?? ''}`;
  if (looksLikeStackTrace(ans.body) && !looksLikeStackTrace(sent)) {
    throw new Error(`stack trace in an answer: ${what()}`);
  }
}
