import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteSpec } from '../../src/protocol/api.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { testSeed } from '../helpers/seeded-random.js';
import { checkAnswer, send, type FuzzRequest } from './fuzz/fuzz-http-client.js';
import { expectStillHealthy, startFuzzServer, type FuzzServer } from './fuzz/fuzz-server.js';
import { routeRequests } from './fuzz/http-arbitraries.js';
import { rawRequests, sendRaw } from './fuzz/raw-http.js';
import { FUZZ_SPACE, seedFixtures, type HttpFixtures } from './fuzz/http-fixtures.js';
import { proofScale } from './proof-scale.js';

/**
 * Issue 15 item 3, HTTP: every route of the route table (protocol/api.ts,
 * the same table /openapi.json is generated from, so a new route is fuzzed
 * without touching this file), plus paths no route matches, gets requests
 * with odd path segments, hostile query strings and headers, and bodies
 * that are valid, mutated once, or garbage — against a real `cairn serve`.
 * Property: never a 5xx, every error the typed SPEC §9 envelope with its
 * status and request id, no stack trace; afterwards the process is alive,
 * logged no error, its RSS is bounded, and `cairn verify` passes.
 */

const seed = testSeed();
const RUNS_PER_ROUTE = proofScale(100, 1000);
const RAW_RUNS = proofScale(300, 3000);
/** Per property test: the long form runs for minutes. */
const TEST_TIMEOUT_MS = proofScale(60_000, 1_800_000);

/** Paths no route of the table serves (the WebSocket path without an upgrade, unknown ones). */
const UNROUTED: RouteSpec[] = ['/v1/:space/ws', '/v1/:space/nope/:docId', '/admin/nope', '/'].map(
  (path, i) => ({
    id: `unrouted${i}`,
    can: null,
    method: 'get',
    path,
    summary: '',
    tag: '',
    ok: {},
    errors: [],
  }),
);

let fuzz: FuzzServer;
let fixtures: HttpFixtures;
let rssBefore = 0;
/** Other spaces a successful write may have created: each must pass verify if it exists. */
const written = new Set<string>();

beforeAll(async () => {
  fuzz = await startFuzzServer();
  fixtures = await seedFixtures(fuzz.url);
  rssBefore = fuzz.rssBytes();
});

afterAll(async () => {
  await fuzz?.cleanup();
});

function noteWrite(req: FuzzRequest, status: number): void {
  if (status >= 300 || req.method === 'GET' || req.method === 'HEAD') return;
  const segment = req.path.split(/[/?]/)[2];
  try {
    const space = decodeURIComponent(segment ?? '');
    if (space.startsWith('did:')) written.add(space);
  } catch {
    // not a decodable segment: the request cannot have named a space
  }
}

describe(`fuzz: HTTP routes on ${TEST_BACKEND}`, () => {
  it(
    'every route answers hostile paths, queries, headers and bodies with a typed 4xx or a success, never a 5xx or a stack trace',
    async () => {
      const routes = [...ROUTES, ...UNROUTED];
      let cases = 0;
      /** Answers by status class: the fuzz must reach handlers (2xx), not only refusals. */
      const classes: Record<string, number> = {};
      for (const [i, route] of routes.entries()) {
        await fc.assert(
          fc.asyncProperty(routeRequests(route, fixtures), async (req) => {
            cases++;
            const ans = await send(fuzz.port, req);
            const k = `${String(ans.status)[0]}xx`;
            classes[k] = (classes[k] ?? 0) + 1;
            noteWrite(req, ans.status);
            checkAnswer(req, ans);
          }),
          { seed: seed + i, numRuns: RUNS_PER_ROUTE },
        );
      }
      const byClass = Object.entries(classes)
        .sort()
        .map(([k, n]) => `${k}=${n}`)
        .join(' ');
      console.log(
        `proof: fuzz-http seed=${seed} cases=${cases} routes=${routes.length} ${byClass} backend=${TEST_BACKEND}`,
      );
      expect(cases).toBeGreaterThanOrEqual(routes.length * RUNS_PER_ROUTE);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'garbled HTTP framing (huge or broken headers, bad request lines, impossible lengths) gets a typed 4xx or a close, never a 5xx',
    async () => {
      const paths = [
        '/healthz',
        `/v1/${FUZZ_SPACE}/tx`,
        `/v1/${FUZZ_SPACE}/docs/doc`,
        `/v1/${FUZZ_SPACE}/kv/app/ns/records/k`,
        `/v1/${FUZZ_SPACE}/yjs/ydoc/updates`,
      ];
      let cases = 0;
      let closed = 0;
      await fc.assert(
        fc.asyncProperty(rawRequests(paths), async (bytes) => {
          cases++;
          const outcome = await sendRaw(fuzz.port, bytes);
          if (outcome.kind === 'closed') return void closed++;
          const shown = JSON.stringify(bytes.toString('latin1').slice(0, 300));
          checkAnswer({ method: 'RAW', path: shown, headers: {} }, outcome.answer);
        }),
        { seed, numRuns: RAW_RUNS },
      );
      console.log(`proof: fuzz-http-raw seed=${seed} cases=${cases} closedWithoutAnswer=${closed}`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'after the run the process is alive, logged no error, its RSS is bounded and verify passes',
    async () => {
      await expectStillHealthy(fuzz, rssBefore);
      await fuzz.stopAndVerify([FUZZ_SPACE], written);
      console.log(`proof: fuzz-http verified spaces=${written.size + 1}`);
    },
    TEST_TIMEOUT_MS,
  );
});
