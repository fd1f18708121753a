import { afterEach, describe, expect, it } from 'vitest';
import { OFF_THREAD_BODY_BYTES } from '../../src/server/tx-body-parser.js';
import { b64, Replica } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/**
 * Transaction bodies of OFF_THREAD_BODY_BYTES and more are parsed on a
 * worker thread: they must commit, and be refused, exactly as small ones.
 */

let engine: TestEngine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

interface Answer {
  results: { applied: number }[];
  error: { code: string; message: string; limit?: string };
}

const post = async (e: TestEngine, body: string) => {
  const res = await e.cairn.fetch(
    new Request(`http://x/v1/${SPACE}/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    }),
  );
  return { status: res.status, json: (await res.json()) as Answer };
};

/** A change holding a string of `chars` characters (one op each). */
function textChange(chars: number): Uint8Array {
  const r = new Replica(5);
  return r.change((d) => {
    d.text = 'ab cd efg '.repeat(Math.ceil(chars / 10)).slice(0, chars);
  });
}

const body = (changes: string[], extra: object = {}) =>
  JSON.stringify({ ...extra, writes: [{ docId: 'big', baseHeads: [], changes }] });

describe('big transaction bodies (parsed off the event loop)', () => {
  it('commits a body over the off-thread threshold and reads it back', async () => {
    engine = await startEngine();
    const change = textChange(400_000);
    const text = body([b64(change)]);
    expect(text.length).toBeGreaterThan(OFF_THREAD_BODY_BYTES);
    const { status, json } = await post(engine, text);
    expect(status).toBe(200);
    expect(json.results[0]?.applied).toBe(1);
    const doc = await engine.cairn.fetch(new Request(`http://x/v1/${SPACE}/docs/big`));
    const view = (await doc.json()) as { value: { text: string } };
    expect(view.value.text.length).toBe(400_000);
  });

  it('refuses a big body that is not JSON with ValidationError', async () => {
    engine = await startEngine();
    const { status, json } = await post(engine, `{"writes": [${' '.repeat(OFF_THREAD_BODY_BYTES)}`);
    expect(status).toBe(400);
    expect(json.error.code).toBe('ValidationError');
    expect(json.error.message).toMatch(/not valid JSON/);
  });

  it('refuses a big body with bad base64 with the same typed error and details as a small one', async () => {
    engine = await startEngine();
    const bad = `${'A'.repeat(OFF_THREAD_BODY_BYTES + 1)}!`;
    const big = await post(engine, body([bad]));
    const small = await post(engine, body(['AAA!']));
    expect(big.status).toBe(small.status);
    expect(big.json.error.code).toBe(small.json.error.code);
    expect(Object.keys(big.json.error).sort()).toEqual(Object.keys(small.json.error).sort());
  });

  it('keeps the details of a limit refusal made on the worker', async () => {
    engine = await startEngine({ limits: { maxChangesPerWrite: 2 } });
    const change = b64(textChange(10));
    // JSON whitespace pads the body over the threshold.
    const padded = body([change, change, change]) + ' '.repeat(OFF_THREAD_BODY_BYTES);
    const { status, json } = await post(engine, padded);
    expect(status).toBe(413);
    expect(json.error.code).toBe('LimitExceeded');
    expect(json.error.limit).toBe('maxChangesPerWrite');
  });
});
