import { decode, encode } from 'cborg';
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/server/error-status.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { LiveTestClient } from '../helpers/live-client.js';
import { testSeed } from '../helpers/seeded-random.js';
import { looksLikeStackTrace } from '../helpers/server-process.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';
import { changeCorpus } from './fuzz/change-corpus.js';
import { expectStillHealthy, startFuzzServer, type FuzzServer } from './fuzz/fuzz-server.js';
import { FuzzSocket, PROPER_CLOSE_CODES } from './fuzz/fuzz-socket.js';
import { freshTxBody } from './fuzz/http-fixtures.js';
import { liveSessions, type LiveSession } from './fuzz/live-arbitraries.js';
import { yjsFrames } from './fuzz/yjs-frame-arbitraries.js';
import { proofScale } from './proof-scale.js';

/**
 * Issue 15 item 3, WebSocket: sessions of the SPEC §6 live protocol (no
 * hello, JSON, CBOR) sending valid, mutated, random and garbage frames, and
 * y-websocket sessions sending hostile sync, update and awareness frames —
 * against a real `cairn serve`. Property: the server answers (a probe
 * invocation gets its `task/return`, a probe sync step 1 its step 2) with
 * only well-formed, typed frames, or closes the socket with a proper code;
 * a healthy subscriber and two stock providers on the fuzzed docs keep
 * getting updates; the process is alive, logged no error, its RSS is
 * bounded, and `cairn verify` passes.
 */

const seed = testSeed();
const RUNS = proofScale(200, 3000);
/** y-websocket sessions are cheap (most end at their first bad frame): more of them. */
const YJS_RUNS = proofScale(500, 5000);
/** Per property test: the long form runs for minutes. */
const TEST_TIMEOUT_MS = proofScale(60_000, 1_800_000);
const SPACE = 'did:key:z6MkProofFuzzWs';
const LIVE_DOC = 'live-doc';
const YJS_DOC = 'yfuzz';

let fuzz: FuzzServer;
let rssBefore = 0;
let wsBase = '';

beforeAll(async () => {
  fuzz = await startFuzzServer();
  wsBase = `${fuzz.url.replace(/^http/, 'ws')}/v1/${SPACE}`;
  const seeded = await fetch(`${fuzz.url}/v1/${SPACE}/tx`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: freshTxBody(LIVE_DOC, 1),
  });
  expect(seeded.status).toBe(200);
  rssBefore = fuzz.rssBytes();
});

afterAll(async () => {
  await fuzz?.cleanup();
});

interface Decoded {
  type?: string;
  id?: unknown;
  error?: { code?: string };
}

/** Every frame the server sent decodes (CBOR if binary, else JSON) and every error in it is typed. */
function checkLiveFrames(ws: FuzzSocket, what: string): Decoded[] {
  return ws.frames.map((f) => {
    const value = (f.binary ? decode(f.data) : JSON.parse(f.data.toString('utf8'))) as Decoded;
    const code = value.error?.code;
    if (code !== undefined) {
      expect(code in ERROR_STATUS && code !== 'Internal', `${what}: ${JSON.stringify(value)}`).toBe(
        true,
      );
    }
    expect(looksLikeStackTrace(JSON.stringify(value)), what).toBe(false);
    return value;
  });
}

async function runLiveSession(session: LiveSession): Promise<'answered' | 'closed'> {
  const ws = await FuzzSocket.open(`${wsBase}/ws`);
  const what = JSON.stringify(session.frames.map((f) => [f.binary, String(f.data).slice(0, 80)]));
  try {
    if (session.start !== 'none') {
      const args = { clientId: 'fuzz', ...(session.start === 'cbor' ? { encoding: 'cbor' } : {}) };
      ws.send(JSON.stringify({ id: 'hello', cmd: '/storage/hello', args }));
      await ws.until(() => checkLiveFrames(ws, what).some((v) => v.id === 'hello'));
    }
    for (const f of session.frames) ws.send(f.data, f.binary);
    const probe = { id: 'probe', cmd: '/storage/get', args: { docId: LIVE_DOC } };
    ws.send(session.start === 'cbor' ? encode(probe) : JSON.stringify(probe));
    const isProbeAnswer = (v: Decoded) => v.type === 'task/return' && v.id === 'probe';
    const outcome = await ws.until(() => checkLiveFrames(ws, what).some(isProbeAnswer));
    if (outcome === 'closed') {
      expect(PROPER_CLOSE_CODES.has(ws.closed!.code), `close ${ws.closed!.code}: ${what}`).toBe(
        true,
      );
      return 'closed';
    }
    return 'answered';
  } finally {
    await ws.close();
  }
}

function syncStep1(): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc()));
  return encoding.toUint8Array(e);
}

describe(`fuzz: WebSocket frames on ${TEST_BACKEND}`, () => {
  let subscriber: LiveTestClient;
  const providers: ReturnType<typeof connectProvider>[] = [];

  beforeAll(async () => {
    subscriber = await LiveTestClient.connect(fuzz.url, SPACE);
    await subscriber.hello('healthy');
    expect(
      (await subscriber.call('/storage/subscribe', { docId: LIVE_DOC })).error,
    ).toBeUndefined();
    for (let i = 0; i < 2; i++) providers.push(connectProvider(fuzz.url, SPACE, YJS_DOC));
    await Promise.all(providers.map((p) => synced(p.provider)));
  });

  afterAll(() => {
    subscriber?.close();
    for (const p of providers) p.close();
  });

  for (const start of ['none', 'json', 'cbor'] as const) {
    it(
      `live sessions (${start === 'none' ? 'no hello' : `${start} hello`}) with hostile frames get typed answers or a proper close`,
      async () => {
        let cases = 0;
        let closed = 0;
        const offset = { none: 0, json: 1, cbor: 2 }[start];
        await fc.assert(
          fc.asyncProperty(liveSessions(LIVE_DOC, start), async (session) => {
            cases++;
            if ((await runLiveSession(session)) === 'closed') closed++;
          }),
          { seed: seed + offset, numRuns: RUNS },
        );
        console.log(
          `proof: fuzz-ws/live-${start} seed=${seed + offset} cases=${cases} closed=${closed}`,
        );
      },
      TEST_TIMEOUT_MS,
    );
  }

  it(
    'y-websocket sessions with hostile sync, update and awareness frames get answers or a proper close',
    async () => {
      const frames = yjsFrames(changeCorpus(40).yjs);
      let cases = 0;
      let closed = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), async (sent) => {
          cases++;
          const ws = await FuzzSocket.open(`${wsBase}/yjs/${YJS_DOC}`);
          try {
            for (const f of sent) ws.send(f.data);
            const step2s = () => ws.frames.filter((f) => f.data[0] === 0 && f.data[1] === 1).length;
            const before = step2s();
            ws.send(syncStep1());
            if ((await ws.until(() => step2s() > before)) === 'closed') {
              closed++;
              expect(PROPER_CLOSE_CODES.has(ws.closed!.code), `close ${ws.closed!.code}`).toBe(
                true,
              );
            }
          } finally {
            await ws.close();
          }
        }),
        { seed: seed + 3, numRuns: YJS_RUNS },
      );
      console.log(`proof: fuzz-ws/yjs seed=${seed + 3} cases=${cases} closed=${closed}`);
    },
    TEST_TIMEOUT_MS,
  );

  it('the healthy subscriber and providers still get updates after the fuzzing', async () => {
    const heads = await fetch(`${fuzz.url}/v1/${SPACE}/docs/${LIVE_DOC}/heads`);
    const { heads: current } = (await heads.json()) as { heads: string[] };
    const res = await fetch(`${fuzz.url}/v1/${SPACE}/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: freshTxBody(LIVE_DOC, 2, current),
    });
    const receipt = (await res.json()) as { epoch: number };
    expect(res.status).toBe(200);
    await subscriber.waitFor(
      (f) =>
        f.type === 'deliver' &&
        f.epoch === receipt.epoch &&
        !!f.docs?.some((d) => d.docId === LIVE_DOC),
    );
    const [a, b] = providers as [
      ReturnType<typeof connectProvider>,
      ReturnType<typeof connectProvider>,
    ];
    a.doc.getText('after').insert(0, 'after the fuzzing');
    await until(
      () => b.doc.getText('after').toString() === 'after the fuzzing',
      'provider B gets A’s edit',
    );
  });

  it(
    'after the run the process is alive, logged no error, its RSS is bounded and verify passes',
    async () => {
      await expectStillHealthy(fuzz, rssBefore);
      await fuzz.stopAndVerify([SPACE]);
    },
    TEST_TIMEOUT_MS,
  );
});
