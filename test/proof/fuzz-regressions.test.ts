import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../helpers/backend.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';
import { checkAnswer, send, type FuzzRequest } from './fuzz/fuzz-http-client.js';
import { expectStillHealthy, startFuzzServer, type FuzzServer } from './fuzz/fuzz-server.js';
import { FuzzSocket } from './fuzz/fuzz-socket.js';
import { sendRaw } from './fuzz/raw-http.js';

/**
 * The failures the fuzz suites (fuzz-http, fuzz-ws, fuzz-changes) found,
 * each replayed as it was found against a real `cairn serve`, with the
 * answer it must get now. The server must also log no error for any of them.
 */

const SPACE = 'did:key:z6MkProofFuzzRegressions';

let fuzz: FuzzServer;
let rssBefore = 0;

beforeAll(async () => {
  fuzz = await startFuzzServer();
  rssBefore = fuzz.rssBytes();
});

afterAll(async () => {
  await fuzz?.cleanup();
});

/** Sends `req`, checks the SPEC §9 shape, returns the status and error code. */
async function answer(req: FuzzRequest): Promise<{ status: number; code?: string }> {
  const ans = await send(fuzz.port, req);
  checkAnswer(req, ans);
  const body = JSON.parse(ans.body) as { error?: { code: string } };
  return { status: ans.status, ...(body.error ? { code: body.error.code } : {}) };
}

const putJson = (path: string, text: string): FuzzRequest => ({
  method: 'PUT',
  path,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(text),
});

describe(`fuzz regressions on ${TEST_BACKEND}`, () => {
  it('a KV put whose value nests 5,000 arrays deep gets 400 ValidationError, not 500 (stack overflow in JSON.stringify)', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const path = `/v1/${SPACE}/kv/app/ns/records/deep`;
    expect(await answer(putJson(path, `{"value":${deep}}`))).toEqual({
      status: 400,
      code: 'ValidationError',
    });
    expect(await answer({ method: 'GET', path, headers: {} })).toEqual({
      status: 404,
      code: 'KeyNotFound',
    });
    // Deep but within the bound: stored and read back.
    const ok = '['.repeat(900) + ']'.repeat(900);
    expect((await answer(putJson(path, `{"value":${ok}}`))).status).toBe(201);
    expect((await answer({ method: 'GET', path, headers: {} })).status).toBe(200);
  });

  it('a KV bulk put whose metadata nests 12,000 objects deep gets 400 ValidationError, not 500', async () => {
    const deep = '{"a":'.repeat(12_000) + '1' + '}'.repeat(12_000);
    const req: FuzzRequest = {
      method: 'POST',
      path: `/v1/${SPACE}/kv/app/ns/records`,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(`{"items":[{"key":"k","value":1,"metadata":{"m":${deep}}}]}`),
    };
    expect(await answer(req)).toEqual({ status: 400, code: 'ValidationError' });
  });

  it('request headers over the server limit get 413 LimitExceeded with the envelope and a request id, not a bare 431', async () => {
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`;
    const outcome = await sendRaw(fuzz.port, Buffer.from(head));
    expect(outcome.kind).toBe('answer');
    if (outcome.kind !== 'answer') return;
    checkAnswer({ method: 'RAW', path: 'X-Big', headers: {} }, outcome.answer);
    expect(outcome.answer.status).toBe(413);
    expect(JSON.parse(outcome.answer.body)).toMatchObject({ error: { code: 'LimitExceeded' } });
  });

  it('a header with a control character gets 400 ValidationError with the envelope, not a bare 400', async () => {
    const head =
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad\u0001Name: y\r\nConnection: close\r\n\r\n';
    const outcome = await sendRaw(fuzz.port, Buffer.from(head, 'latin1'));
    expect(outcome.kind).toBe('answer');
    if (outcome.kind !== 'answer') return;
    checkAnswer({ method: 'RAW', path: 'Bad\\u0001Name', headers: {} }, outcome.answer);
    expect(JSON.parse(outcome.answer.body)).toMatchObject({ error: { code: 'ValidationError' } });
  });

  it('`GET * HTTP/1.1` (a URL the adapter cannot make a Request of) gets 400 ValidationError with the envelope, not a bare 400', async () => {
    const outcome = await sendRaw(
      fuzz.port,
      Buffer.from('GET * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
    );
    expect(outcome.kind).toBe('answer');
    if (outcome.kind !== 'answer') return;
    checkAnswer({ method: 'GET', path: '*', headers: {} }, outcome.answer);
    expect(outcome.answer.status).toBe(400);
    expect(JSON.parse(outcome.answer.body)).toMatchObject({ error: { code: 'ValidationError' } });
  });

  it('an upload cut off by the client (Content-Length 100, 2 bytes sent, then EOF) is not logged as a 500 Internal error', async () => {
    const paths = ['/healthz', `/v1/${SPACE}/kv/app/ns/records/cut`, `/v1/${SPACE}/tx`];
    for (const path of paths) {
      const head = `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}`;
      await sendRaw(fuzz.port, Buffer.from(head));
    }
    // The client is gone, so nobody reads an answer: what matters is the log,
    // once each request's access line (written when it is done) is there.
    const logged = (path: string) =>
      fuzz.server.output().includes(`"method":"PUT","path":"${path}"`);
    await until(() => paths.every(logged), 'the server finished the cut-off requests');
    expect(fuzz.errors).toEqual([]);
  });

  it('a y-websocket sync step 1 whose state vector does not decode closes that socket with 1007, with no unhandled rejection, and the doc goes on', async () => {
    const good = connectProvider(fuzz.url, SPACE, 'ydoc');
    try {
      await synced(good.provider);
      const ws = await FuzzSocket.open(`${fuzz.url.replace(/^http/, 'ws')}/v1/${SPACE}/yjs/ydoc`);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0); // sync
      encoding.writeVarUint(e, 0); // step 1
      encoding.writeVarUint8Array(e, Uint8Array.of(0x05, 0x80)); // 5 entries, then a cut varint
      ws.send(encoding.toUint8Array(e));
      expect(await ws.until(() => false)).toBe('closed');
      expect(ws.closed?.code).toBe(1007);
      const other = connectProvider(fuzz.url, SPACE, 'ydoc');
      try {
        await synced(other.provider);
        good.doc.getText('t').insert(0, 'still fine');
        await until(() => other.doc.getText('t').toString() === 'still fine', 'the doc goes on');
      } finally {
        other.close();
      }
    } finally {
      good.close();
    }
  });

  it('the server logged no error for any of them and verify passes', async () => {
    await expectStillHealthy(fuzz, rssBefore);
    await fuzz.stopAndVerify([SPACE]);
  });
});
