import { afterEach, describe, expect, it } from 'vitest';
import { CairnError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';
import { b64, Replica } from '../helpers/changes.js';

/**
 * The HTTP contract every answer keeps (SPEC §8, §9), in-process on the
 * backend under test: request ids, logged 5xx, CORS, 503 after close, and
 * typed refusals of the embedding API.
 */

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** A logger that keeps what was logged at warn and above. */
function recordingLogger(): Logger & { lines: { level: string; fields: object; msg?: string }[] } {
  const lines: { level: string; fields: object; msg?: string }[] = [];
  const keep = (level: string) => (fields: object, msg?: string) =>
    void lines.push({ level, fields, ...(msg !== undefined ? { msg } : {}) });
  return { lines, debug: () => {}, info: () => {}, warn: keep('warn'), error: keep('error') };
}

const call = (e: TestEngine, path: string, init: RequestInit = {}) =>
  e.cairn.fetch(new Request(`http://x${path}`, init));

describe('request ids', () => {
  it('answers every request with an X-Request-Id; keeps a well-formed one the client sent', async () => {
    engine = await startEngine();
    for (const path of ['/healthz', `/v1/${SPACE}/docs/nope`, '/nope', `/v1/${SPACE}/tx`]) {
      const res = await call(engine, path);
      expect(res.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
    }
    const mine = await call(engine, `/v1/${SPACE}/docs/nope`, {
      headers: { 'x-request-id': 'client-42.a' },
    });
    expect(mine.headers.get('x-request-id')).toBe('client-42.a');
    const body = (await mine.json()) as { error: { requestId: string } };
    expect(body.error.requestId).toBe('client-42.a');
    const bad = await call(engine, '/healthz', { headers: { 'x-request-id': 'has space\u0001' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('puts the request id into every error body, refused transactions included', async () => {
    engine = await startEngine();
    const change = b64(new Replica(1).change((d) => void (d.a = 1)));
    const stale = await call(engine, `/v1/${SPACE}/tx`, {
      method: 'POST',
      body: JSON.stringify({
        writes: [{ docId: 'd', baseHeads: ['0'.repeat(64)], changes: [change] }],
      }),
    });
    expect(stale.status).toBe(409);
    const body = (await stale.json()) as {
      error: { code: string; requestId: string };
      results: unknown[];
    };
    expect(body.error.code).toBe('StaleBaseHeads');
    expect(body.error.requestId).toBe(stale.headers.get('x-request-id'));
    expect(body.results).toHaveLength(1);
  });

  it('logs a typed Internal error with its request id and tells the client only the id', async () => {
    const logger = recordingLogger();
    engine = await startEngine({ logger });
    // A fault inside the read path surfaces as a typed Internal error.
    engine.cairn.read.heads = async () => {
      throw new CairnError('Internal', 'a secret internal detail');
    };
    const res = await call(engine, `/v1/${SPACE}/docs/d/heads`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('secret');
    const requestId = res.headers.get('x-request-id');
    expect(JSON.parse(text)).toEqual({
      ok: false,
      error: { code: 'Internal', message: 'internal error', requestId },
    });
    const logged = logger.lines.find((l) => l.level === 'error');
    expect(logged?.fields).toMatchObject({ requestId, status: 500 });
    expect(logged?.msg).toContain('secret');
  });
});

describe('CORS', () => {
  it('is off by default: no CORS headers, preflights are not answered as such', async () => {
    engine = await startEngine();
    const res = await call(engine, '/healthz', { headers: { origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with origins configured, answers preflights and adds the headers for those origins only', async () => {
    engine = await startEngine({ corsOrigins: ['https://app.example'] });
    const pre = await call(engine, `/v1/${SPACE}/tx`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const got = await call(engine, '/healthz', { headers: { origin: 'https://app.example' } });
    expect(got.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(got.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    const other = await call(engine, '/healthz', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the embedding API', () => {
  it('after close() every request answers 503 StorageUnavailable', async () => {
    engine = await startEngine();
    const cairn = engine.cairn;
    await cairn.close();
    for (const path of ['/healthz', `/v1/${SPACE}/docs`, `/v1/${SPACE}/docs/d`, '/nope']) {
      const res = await cairn.fetch(new Request(`http://x${path}`));
      expect(res.status, path).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'StorageUnavailable',
      );
    }
    const tx = await cairn.fetch(
      new Request(`http://x/v1/${SPACE}/tx`, { method: 'POST', body: '{"writes":[]}' }),
    );
    expect(tx.status).toBe(503);
  });

  it('registerInvariant refuses a space id that is not a space DID', async () => {
    engine = await startEngine();
    for (const bad of ['', 'not-a-did', 'did:key:has space', `did:key:${'z'.repeat(130)}`]) {
      expect(
        () => engine?.cairn.registerInvariant(bad, { name: 'x', check: () => true }),
        bad,
      ).toThrow(expect.objectContaining({ code: 'ValidationError' }));
    }
  });
});
