import * as A from '@automerge/automerge';
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKEND } from '../helpers/backend.js';
import { b64 } from '../helpers/changes.js';
import { testSeed } from '../helpers/seeded-random.js';
import { byteMutation, mutateBytes, type ByteMutation } from './fuzz/byte-mutations.js';
import { changeCorpus } from './fuzz/change-corpus.js';
import { checkAnswer, send, type FuzzRequest } from './fuzz/fuzz-http-client.js';
import { expectStillHealthy, startFuzzServer, type FuzzServer } from './fuzz/fuzz-server.js';
import { FuzzSocket, PROPER_CLOSE_CODES } from './fuzz/fuzz-socket.js';
import { proofScale } from './proof-scale.js';

/**
 * Issue 15 item 3, change bytes: real Automerge changes and Yjs updates (a
 * real trace's keystrokes, see fuzz/change-corpus.ts) damaged — bit flips,
 * truncation, splices, duplicated chunks, corrupted headers, re-sealed
 * checksums — and sent over a real server: the HTTP tx route, the import
 * route, the Yjs HTTP updates route and the y-websocket update message.
 * Property: a typed 4xx or an accepted write, never a 5xx; afterwards the
 * doc loads (or, refused, does not exist: nothing half-visible); at the end
 * the process is alive, logged no error, its RSS is bounded, verify passes.
 * (test/pipeline/mutated-changes-property.test.ts does the same in-process
 * against the pipeline; this is the end-to-end form.)
 */

const seed = testSeed();
const RUNS = proofScale(250, 2500);
/** Per property test: the long form runs for minutes. */
const TEST_TIMEOUT_MS = proofScale(60_000, 1_800_000);
const SPACE = 'did:key:z6MkProofFuzzChanges';
const corpus = changeCorpus(60);

let fuzz: FuzzServer;
let rssBefore = 0;

beforeAll(async () => {
  fuzz = await startFuzzServer();
  rssBefore = fuzz.rssBytes();
});

afterAll(async () => {
  await fuzz?.cleanup();
});

/** A damaged payload: the index of the real one in its list, and the damage. */
const damaged = (max: number) => fc.tuple(fc.integer({ min: 0, max: max - 1 }), byteMutation);

async function call(req: FuzzRequest): Promise<number> {
  const ans = await send(fuzz.port, req);
  checkAnswer(req, ans);
  return ans.status;
}

const json = (body: unknown): Pick<FuzzRequest, 'headers' | 'body'> => ({
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify(body)),
});
const bytes = (body: Uint8Array): Pick<FuzzRequest, 'headers' | 'body'> => ({
  headers: { 'content-type': 'application/octet-stream' },
  body: Buffer.from(body),
});

/** After a write answered `status`: committed, the doc reads (JSON and bytes that load); refused, it does not exist. */
async function expectAutomergeDoc(docId: string, status: number): Promise<void> {
  const path = `/v1/${SPACE}/docs/${docId}`;
  const read = await call({ method: 'GET', path, headers: {} });
  if (status >= 400) return void expect(read, `${docId} after a refused write`).toBe(404);
  expect(read, `${docId} after an accepted write`).toBe(200);
  const saved = await fetch(`${fuzz.url}${path}`, { headers: { accept: 'application/automerge' } });
  expect(saved.status).toBe(200);
  A.load(new Uint8Array(await saved.arrayBuffer()));
}

/** The Yjs doc's state reads and applies, and its text root reads as JSON. */
async function expectYjsDoc(docId: string): Promise<void> {
  const res = await fetch(`${fuzz.url}/v1/${SPACE}/yjs/${docId}`);
  expect(res.status, `state of ${docId}`).toBe(200);
  Y.applyUpdate(new Y.Doc(), new Uint8Array(await res.arrayBuffer()));
  const roots = await call({
    method: 'GET',
    path: `/v1/${SPACE}/yjs/${docId}/json?roots=text:text`,
    headers: {},
  });
  expect(roots).toBe(200);
}

function label(kind: string, n: number, m: ByteMutation): string {
  return `${kind}-${n}-${m.kind}${m.fixChecksum ? '-sealed' : ''}`;
}

describe(`fuzz: change bytes on ${TEST_BACKEND} (${corpus.source})`, () => {
  it(
    'a damaged Automerge change in a tx (after its real deps) is committed and loads, or refused with a typed 4xx and invisible',
    async () => {
      let cases = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(damaged(corpus.automerge.length), async ([i, m]) => {
          const docId = `am-${cases++}`;
          const changes = [...corpus.automerge.slice(0, i), mutateBytes(corpus.automerge[i]!, m)];
          const body = { writes: [{ docId, baseHeads: [], changes: changes.map(b64) }] };
          const status = await call({ method: 'POST', path: `/v1/${SPACE}/tx`, ...json(body) });
          if (status === 200) accepted++;
          await expectAutomergeDoc(docId, status);
        }),
        { seed, numRuns: RUNS },
      );
      console.log(
        `proof: fuzz-changes/automerge-tx seed=${seed} cases=${cases} accepted=${accepted} source=${corpus.source}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a damaged saved Automerge document on the import route is imported and loads, or refused with a typed 4xx and invisible',
    async () => {
      const saved = A.save(A.applyChanges(A.init(), corpus.automerge)[0]);
      let cases = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(byteMutation, async (m) => {
          const docId = `imp-${cases++}`;
          const path = `/v1/${SPACE}/docs/${docId}/import`;
          const status = await call({ method: 'POST', path, ...bytes(mutateBytes(saved, m)) });
          if (status === 200) accepted++;
          await expectAutomergeDoc(docId, status);
        }),
        { seed: seed + 1, numRuns: RUNS },
      );
      console.log(
        `proof: fuzz-changes/automerge-import seed=${seed + 1} cases=${cases} accepted=${accepted}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a damaged Yjs update on the HTTP updates route is committed or refused with a typed 4xx, and the doc still loads',
    async () => {
      let cases = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(damaged(corpus.yjs.length), async ([i, m]) => {
          const docId = `yh-${cases++}`;
          const path = `/v1/${SPACE}/yjs/${docId}/updates`;
          const prefix = Y.mergeUpdates(corpus.yjs.slice(0, Math.max(i, 1)));
          expect(await call({ method: 'POST', path, ...bytes(prefix) })).toBe(200);
          if (
            (await call({ method: 'POST', path, ...bytes(mutateBytes(corpus.yjs[i]!, m)) })) === 200
          ) {
            accepted++;
          }
          await expectYjsDoc(docId);
        }),
        { seed: seed + 2, numRuns: RUNS },
      );
      console.log(
        `proof: fuzz-changes/yjs-http seed=${seed + 2} cases=${cases} accepted=${accepted}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a damaged Yjs update in a y-websocket update message is committed or closes the socket with 1007, and the doc still loads',
    async () => {
      let cases = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(damaged(corpus.yjs.length), async ([i, m]) => {
          const docId = `yw-${cases++}`;
          const ws = await FuzzSocket.open(
            `${fuzz.url.replace(/^http/, 'ws')}/v1/${SPACE}/yjs/${docId}`,
          );
          try {
            ws.send(updateMessage(Y.mergeUpdates(corpus.yjs.slice(0, Math.max(i, 1)))));
            ws.send(updateMessage(mutateBytes(corpus.yjs[i]!, m)));
            // A sync step 1 after the update: its step 2 comes once the updates are handled.
            ws.send(syncStep1());
            const step2 = () => ws.frames.some((f) => f.data[0] === 0 && f.data[1] === 1);
            if ((await ws.until(step2)) === 'matched') accepted++;
            else {
              expect(
                PROPER_CLOSE_CODES.has(ws.closed!.code),
                label('close', ws.closed!.code, m),
              ).toBe(true);
            }
          } finally {
            await ws.close();
          }
          // The valid prefix was committed whatever became of the damaged update.
          await expectEventually(
            async () => (await fetch(`${fuzz.url}/v1/${SPACE}/yjs/${docId}`)).status === 200,
          );
          await expectYjsDoc(docId);
        }),
        { seed: seed + 3, numRuns: RUNS },
      );
      console.log(
        `proof: fuzz-changes/yjs-websocket seed=${seed + 3} cases=${cases} accepted=${accepted}`,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'after the run the process is alive, logged no error, its RSS is bounded and verify passes',
    async () => {
      await expectStillHealthy(fuzz, rssBefore);
      await fuzz.stopAndVerify([SPACE]);
    },
    TEST_TIMEOUT_MS,
  );
});

/** A y-websocket sync message of type update (0, 2) holding `update`. */
function updateMessage(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, 2);
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

/** A y-websocket sync step 1 with an empty state vector. */
function syncStep1(): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint8Array(e, Y.encodeStateVector(new Y.Doc()));
  return encoding.toUint8Array(e);
}

async function expectEventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('not within 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
