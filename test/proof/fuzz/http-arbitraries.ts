import fc from 'fast-check';
import type { RouteSpec } from '../../../src/protocol/api.js';
import { garbledJson, jsonMutation, mutateJson } from './json-arbitraries.js';
import { byteMutation, mutateBytes } from './byte-mutations.js';
import { describeRequest, type FuzzRequest } from './fuzz-http-client.js';
import type { HttpFixtures } from './http-fixtures.js';

/**
 * A fast-check arbitrary of requests to one route of the route table
 * (protocol/api.ts): its path with valid or odd segments, declared and
 * undeclared query parameters with hostile values, garbled headers, and a
 * body that is valid, a valid one mutated once, or garbage.
 */

/** Every byte percent-encoded (so any bytes, invalid UTF-8 included, make a legal path). */
const pct = (bytes: Uint8Array) =>
  [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** A path segment or query value nobody should send. */
export const oddSegment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => encodeURIComponent(s)),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => pct(Buffer.from(s, 'utf8'))),
  fc.uint8Array({ maxLength: 16 }).map(pct),
  fc.constantFrom(
    '%zz',
    '%',
    '%FF',
    '%C0%AF',
    '%ED%A0%80',
    '..',
    '%2e%2e',
    '.',
    '%00',
    '%2F',
    'a%2Fb',
    '%20',
    '+',
    'did:key:z6MkOther',
    `did:key:${'x'.repeat(200)}`,
    'x'.repeat(400),
    '%F0%9F%92%A9',
    '__proto__',
    'constructor',
    '-1',
    '1e9',
    '9'.repeat(30),
    '0x10',
    '',
  ),
);

/** A cursor of the right encoding (base64url JSON) holding the wrong things. */
const forgedCursor: fc.Arbitrary<string> = fc
  .dictionary(
    fc.constantFrom('s', 'd', 'e', 'k', 'n', 'a', 't'),
    fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(-1, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, '', '\ud800'),
    ),
    { maxKeys: 3 },
  )
  .map((v) => Buffer.from(JSON.stringify(v)).toString('base64url'));

const queryValue = (cursors: string[]) =>
  fc.oneof(
    fc.constantFrom('1', '0', '-1', '1.5', '1e3', '99999999999999999999', 'NaN', 'main', 'feature'),
    fc.constantFrom('*', 'doc,doc', 'ydoc', 't:text,m:map', '2024-01-01T00:00:00Z', '0'.repeat(64)),
    fc.constantFrom(...cursors),
    forgedCursor,
    oddSegment,
  );

const printableText = fc.string({ unit: 'grapheme-ascii', maxLength: 60 });

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'application/octet-stream',
  'application/automerge',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  'garbage/;;;',
);

const hostileHeaders = fc.record(
  {
    'content-type': fc.oneof(contentType, fc.tuple(contentType, contentType)),
    accept: fc.constantFrom(
      'application/automerge',
      'application/json',
      '*/*',
      'text/event-stream',
      'x',
    ),
    'x-request-id': fc.oneof(printableText, fc.constant('r'.repeat(2000))),
    authorization: fc.constantFrom(
      'Bearer x',
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      `Bearer ${'a'.repeat(4000)}`,
    ),
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
    'last-event-id': fc.oneof(printableText, fc.constantFrom('-1', '99999999999999999999')),
    'x-fuzz-big': fc.integer({ min: 1000, max: 8000 }).map((n) => 'h'.repeat(n)),
    'x-cairn-dup': fc.array(printableText, { minLength: 2, maxLength: 4 }),
  },
  { requiredKeys: [] },
);

/** Mostly plain headers (a presented token is checked even with auth off: 401 before anything). */
const headersArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ 'content-type': contentType }) },
  { weight: 2, arbitrary: hostileHeaders },
);

/** The arbitrary of requests to `route`, built from the fixtures' valid values and bodies. */
export function routeRequests(route: RouteSpec, fixtures: HttpFixtures): fc.Arbitrary<FuzzRequest> {
  const cursors = [...fixtures.cursors, 'eyJzIjoxfQ'];
  const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  const validOf = (name: string) =>
    name === 'docId' && route.path.includes('/yjs/') ? 'ydoc' : (fixtures.params[name] ?? 'x');
  const segment = (name: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(encodeURIComponent(validOf(name))) },
      { weight: 2, arbitrary: oddSegment },
    );
  const declared = route.query ? Object.keys(route.query.shape) : [];
  const query = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...declared, 'limit', 'cursor', 'x'), oddSegment),
      queryValue(cursors),
    ),
    { maxLength: 5 },
  );
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constant(route.method.toUpperCase()) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    },
  );
  return fc
    .record({
      method,
      // Mostly every segment valid, so that the request reaches the handler's own checks.
      segments: fc.oneof(
        { weight: 3, arbitrary: fc.constant(names.map((n) => encodeURIComponent(validOf(n)))) },
        { weight: 2, arbitrary: fc.tuple(...names.map(segment)) },
      ),
      query,
      headers: headersArb,
      body: bodyArb(route, fixtures),
    })
    .map(({ method, segments, query, headers, body }) => {
      let i = 0;
      const path = route.path.replace(/:([A-Za-z]+)/g, () => segments[i++] ?? '');
      const qs = query.map(([k, v]) => `${k}=${v}`).join('&');
      return printable({
        method,
        path: qs ? `${path}?${qs}` : path,
        headers: headers as Record<string, string | string[]>,
        ...(body ? { body } : {}),
      });
    });
}

/** A request that fast-check prints (counterexamples) short: bodies can be megabytes. */
function printable(req: FuzzRequest): FuzzRequest {
  return Object.defineProperty(req, fc.toStringMethod, { value: () => describeRequest(req) });
}

function bodyArb(route: RouteSpec, fixtures: HttpFixtures): fc.Arbitrary<Buffer | undefined> {
  const none = fc.constant(undefined);
  if (!route.body)
    return fc.oneof({ weight: 4, arbitrary: none }, { weight: 1, arbitrary: garbledJson });
  const valid = (n: number) =>
    fixtures.validBody(route.id, n) ?? Buffer.from('json' in route.body! ? '{}' : '');
  const mutated =
    'json' in route.body
      ? fc.tuple(fc.nat(), jsonMutation).map(([n, m]) => mutateJson(valid(n), m))
      : fc.tuple(fc.nat(), byteMutation).map(([n, m]) => Buffer.from(mutateBytes(valid(n), m)));
  return fc.oneof(
    { weight: 2, arbitrary: fc.nat().map(valid) },
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: garbledJson },
    { weight: 1, arbitrary: none },
  );
}
