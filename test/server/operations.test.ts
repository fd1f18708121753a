import { afterEach, describe, expect, it } from 'vitest';
import { Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * SPEC §8 operations endpoints: /readyz (storage takes writes), /metrics
 * (Prometheus text whose counters move and whose label sets stay bounded,
 * naming no tenant) and /debug (facts, no tenant data) — all public.
 */

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

const get = (e: TestEngine, path: string) => e.cairn.fetch(new Request(`http://cairn.test${path}`));

/** `name{labels} value` lines of one metric. */
function samples(text: string, name: string): { labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => {
      const at = l.lastIndexOf(' ');
      return { labels: l.slice(name.length, at), value: Number(l.slice(at + 1)) };
    });
}

const valueOf = (text: string, name: string, label: string) =>
  samples(text, name).find((s) => s.labels.includes(label))?.value ?? 0;

describe('operations endpoints', () => {
  it('readyz is 200 while storage takes writes, and 503 with a reason once the server is closed', async () => {
    engine = await startEngine();
    const ready = await get(engine, '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
    await engine.cairn.close();
    const closed = await get(engine, '/readyz');
    expect(closed.status).toBe(503);
    expect(await closed.json()).toMatchObject({ ready: false, reasons: ['shutting down'] });
  });

  it('metrics count commits and refusals by code, name no space, and keep label sets bounded over 40 spaces', async () => {
    // A doc id no metric name or help text could contain by chance.
    const DOC = 'metrics-doc-7f3a';
    engine = await startEngine();
    const before = await (await get(engine, '/metrics')).text();
    const spaces = Array.from({ length: 40 }, (_, i) => `did:key:z6MkMetricsSpace${i}`);
    for (const [i, space] of spaces.entries()) {
      await engine.ok(
        { writes: [write(DOC, [new Replica(i + 1).change((d) => (d.n = i))])] },
        space,
      );
    }
    const r = new Replica(99);
    const first = r.change((d) => (d.a = 1));
    await engine.ok({ writes: [write(DOC, [first])] });
    const stale = await engine.tx({ writes: [write(DOC, [r.change((d) => (d.a = 2))], [])] });
    expect(stale.ok).toBe(false);
    const res = await get(engine, '/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const ok = 'result="ok"';
    expect(
      valueOf(text, 'cairn_transactions_total', ok) -
        valueOf(before, 'cairn_transactions_total', ok),
    ).toBe(41);
    const code = `result="${(stale as { error: { code: string } }).error.code}"`;
    expect(valueOf(text, 'cairn_transactions_total', code)).toBe(1);
    expect(valueOf(text, 'cairn_commit_duration_seconds_count', ok)).toBeGreaterThanOrEqual(41);
    for (const s of [SPACE, ...spaces, DOC]) expect(text).not.toContain(s);
    // Every cairn_ series uses only bounded labels.
    const labelKeys = new Set<string>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('cairn_') || !line.includes('{')) continue;
      for (const m of line.slice(line.indexOf('{') + 1, line.indexOf('}')).matchAll(/(\w+)="/g)) {
        labelKeys.add(m[1] as string);
      }
    }
    const allowed = [
      'storage',
      'result',
      'path',
      'event',
      'le',
      'version',
      'type',
      'space',
      'kind',
      'major',
      'minor',
      'patch',
    ];
    expect([...labelKeys].filter((k) => !allowed.includes(k))).toEqual([]);
    expect(samples(text, 'cairn_transactions_total').length).toBeLessThanOrEqual(3);
    for (const name of [
      'cairn_reads_total',
      'cairn_snapshots_total',
      'cairn_live_events_total',
      'cairn_ws_connections',
      'cairn_write_queue_depth',
      'cairn_delivery_queue_frames',
      'cairn_open_db_handles',
      'cairn_degraded',
    ]) {
      expect(samples(text, name).length, name).toBeGreaterThan(0);
    }
  });

  it('debug gives storage and migration facts, and no tenant data', async () => {
    engine = await startEngine();
    await engine.ok({ writes: [write('secret-doc', [new Replica(1).change((d) => (d.s = 1))])] });
    const res = await get(engine, '/debug');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      storage: engine.cairn.backend.kind,
      degraded: { storageRefusedLastWrite: false },
    });
    expect(body.schemaVersion).toEqual(expect.any(Number));
    const text = JSON.stringify(body);
    expect(text).not.toContain(SPACE);
    expect(text).not.toContain('secret-doc');
  });

  it('logs one JSON access line per request, carrying the request id the answer names', async () => {
    const lines: Record<string, unknown>[] = [];
    const capture = {
      info: (obj: object, msg?: string) => lines.push({ ...obj, msg }),
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    };
    engine = await startEngine({ logger: capture });
    const res = await engine.cairn.fetch(
      new Request(`http://cairn.test/v1/${SPACE}/docs`, { headers: { 'x-request-id': 'req-42' } }),
    );
    expect(res.headers.get('x-request-id')).toBe('req-42');
    const access = lines.filter((l) => l.msg === 'request');
    expect(access).toEqual([
      expect.objectContaining({
        requestId: 'req-42',
        method: 'GET',
        path: `/v1/${SPACE}/docs`,
        status: 200,
      }),
    ]);
    expect(access[0]?.ms).toEqual(expect.any(Number));
  });

  it('are public: no token needed when auth is required', async () => {
    engine = await startEngine({ auth: 'required' });
    for (const path of ['/healthz', '/readyz', '/metrics', '/debug']) {
      expect((await get(engine, path)).status, path).toBe(200);
    }
    expect((await get(engine, `/v1/${SPACE}/docs`)).status).toBe(401);
  });
});
