import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/protocol/api.js';
import { b64, hashOf, Replica } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * /openapi.json is generated from the route table and the wire schemas: it
 * must be a valid OpenAPI 3.1 document, name every route the server mounts
 * (and no other), and describe what the server really answers.
 */

type Json = Record<string, unknown>;
let engine: TestEngine;
let doc: Json;

beforeAll(async () => {
  engine = await startEngine({ enableServerMerge: true, enableAdminRoutes: true });
  const res = await engine.cairn.fetch(new Request('http://x/openapi.json'));
  expect(res.status).toBe(200);
  doc = (await res.json()) as Json;
});
afterAll(async () => {
  await engine.close();
});

const paths = () => doc.paths as Record<string, Record<string, Json>>;

describe('GET /openapi.json', () => {
  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the server mounts, and nothing else', () => {
    const mounted = new Set(
      engine.cairn.app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(paths()).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    );
    expect([...documented].sort()).toEqual([...mounted].sort());
    expect(documented.size).toBe(ROUTES.length);
  });

  it('gives every route its error codes with their statuses', () => {
    const tx = paths()['/v1/{space}/tx']?.post as Json;
    const responses = tx.responses as Record<string, { description: string }>;
    expect(Object.keys(responses).sort()).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '409',
      '413',
      '422',
      '429',
      '500',
      '503',
    ]);
    expect(responses['409']?.description).toContain('StaleBaseHeads');
    // A UCAN with storage/write (SPEC §7); public routes need none.
    expect(tx.security).toEqual([{ ucan: ['storage/write'] }]);
    expect(paths()['/healthz']?.get).toMatchObject({ security: [] });
  });

  it('describes what the server answers (bodies validate against their schemas)', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'cairn:openapi', components: doc.components });
    const check = (schemaRef: Json, body: unknown, what: string) => {
      const absolute = JSON.stringify(schemaRef).replaceAll(
        '"#/components/',
        '"cairn:openapi#/components/',
      );
      const validate = ajv.compile(JSON.parse(absolute) as Json);
      expect(validate(body), `${what}: ${JSON.stringify(validate.errors)}`).toBe(true);
    };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await engine.cairn.fetch(
        new Request(`http://x/v1/${SPACE}${path}`, {
          method,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        }),
      );
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const schemaOf = (path: string, method: string, status: number) => {
      const op = paths()[path]?.[method] as Json;
      const answer = (op.responses as Record<string, Json>)[String(status)] as Json;
      return ((answer.content as Json)['application/json'] as Json).schema as Json;
    };

    const r = new Replica(1);
    const c1 = r.change((d) => void (d.title = 'hello'), 'first');
    const committed = await call('POST', '/tx', {
      clientTxId: 'k1',
      writes: [{ docId: 'a', baseHeads: [], changes: [b64(c1)] }],
    });
    check(schemaOf('/v1/{space}/tx', 'post', 200), committed.body, 'receipt');
    const stale = await call('POST', '/tx', {
      writes: [{ docId: 'a', baseHeads: [], changes: [b64(r.change((d) => void (d.n = 1)))] }],
    });
    expect(stale.status).toBe(409);
    check(schemaOf('/v1/{space}/tx', 'post', 409), stale.body, 'refusal');
    const reads: [string, string][] = [
      ['/docs/a', '/v1/{space}/docs/{docId}'],
      ['/docs/a/heads', '/v1/{space}/docs/{docId}/heads'],
      ['/docs/a/changes', '/v1/{space}/docs/{docId}/changes'],
      ['/docs/a/history', '/v1/{space}/docs/{docId}/history'],
      ['/docs', '/v1/{space}/docs'],
      ['/docs/a/branches', '/v1/{space}/docs/{docId}/branches'],
      ['/tx/1', '/v1/{space}/tx/{epoch}'],
    ];
    for (const [url, path] of reads) {
      const got = await call('GET', url);
      expect(got.status, url).toBe(200);
      check(schemaOf(path, 'get', 200), got.body, url);
    }
    const fork = await call('POST', '/docs/a/branches', {
      name: 'f',
      from: { heads: [hashOf(c1)] },
    });
    check(schemaOf('/v1/{space}/docs/{docId}/branches', 'post', 201), fork.body, 'fork');
    const snap = await call('POST', '/docs/a/snapshots', {});
    check(schemaOf('/v1/{space}/docs/{docId}/snapshots', 'post', 201), snap.body, 'snapshot');
    const missing = await call('GET', '/docs/nope');
    expect(missing.status).toBe(404);
    check(schemaOf('/v1/{space}/docs/{docId}', 'get', 404), missing.body, 'error');
  });
});
