import * as A from '@automerge/automerge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestEngine } from '../helpers/engine.js';
import { SPACE, startEngine } from '../helpers/engine.js';
import { hashOf, Replica, write } from '../helpers/changes.js';

/**
 * Changes whose header is valid but whose operations do not apply. The
 * commit path checks headers only; such a change is committed, then found
 * (by the first read or snapshot that cannot build past it), quarantined and
 * left out: every version of the doc stays readable as JSON and as loadable
 * bytes, snapshots keep working, and answers list what was left out.
 */

const ACTOR = 'aa'.repeat(16);
const OTHER = 'bb'.repeat(16);

/** A doc with a map, a list and text, and a real change by another actor to edit. */
function seed() {
  const r = new Replica(0);
  r.doc = A.change(A.init<Record<string, unknown>>({ actor: ACTOR }), (d) => {
    d.m = { k: 1 };
    d.list = ['a', 'b'];
    d.t = 'hi';
  });
  const c0 = A.getLastLocalChange(r.doc) as Uint8Array;
  const next = A.change(
    A.clone(r.doc, { actor: OTHER }),
    (d) => void ((d.m as { k: number }).k = 2),
  );
  const real = A.getLastLocalChange(next) as Uint8Array;
  return { c0, real, d0: A.decodeChange(c0) };
}

type Op = Record<string, unknown>;

/** The real change with its ops replaced (re-encoded with a valid hash and checksum). */
function craft(real: Uint8Array, ops: (orig: Op[]) => Op[]): Uint8Array {
  const dc = A.decodeChange(real);
  const { hash: _hash, ...rest } = dc;
  return A.encodeChange({ ...rest, ops: ops(JSON.parse(JSON.stringify(dc.ops)) as Op[]) } as never);
}

/** The crafted changes that broke reads before. */
function poisons(): [string, (s: ReturnType<typeof seed>) => Uint8Array][] {
  const objOf = (s: ReturnType<typeof seed>, action: string) =>
    s.d0.ops.find((o) => o.action === action)?.obj === '_root'
      ? `${s.d0.startOp + s.d0.ops.findIndex((o) => o.action === action)}@${ACTOR}`
      : '';
  return [
    [
      'an op on an object that does not exist',
      (s) => craft(s.real, (ops) => ops.map((o) => ({ ...o, obj: `99@${ACTOR}`, pred: [] }))),
    ],
    [
      'an insert after a list element that does not exist',
      (s) =>
        craft(s.real, () => [
          {
            action: 'set',
            obj: objOf(s, 'makeList'),
            elemId: `77@${ACTOR}`,
            insert: true,
            value: 'z',
            pred: [],
          },
        ]),
    ],
    [
      'a map key on a list',
      (s) =>
        craft(s.real, () => [
          { action: 'set', obj: objOf(s, 'makeList'), key: 'x', value: 1, pred: [] },
        ]),
    ],
    [
      'a predecessor that does not exist',
      (s) => craft(s.real, (ops) => ops.map((o) => ({ ...o, pred: [`55@${ACTOR}`] }))),
    ],
    [
      'a delete of a map key that was never set',
      (s) => craft(s.real, () => [{ action: 'del', obj: '_root', key: 'nokey', pred: [] }]),
    ],
  ];
}

describe('poisoned changes (valid headers, ops that do not apply)', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine();
  });
  afterEach(async () => {
    await engine.close();
  });

  const call = (path: string, accept?: string) =>
    engine.cairn.fetch(
      new Request(`http://x/v1/${SPACE}${path}`, accept ? { headers: { accept } } : {}),
    );

  it.each(poisons())(
    '%s: every version stays readable as JSON and bytes; the change is quarantined',
    async (_name, make) => {
      const s = seed();
      const bad = make(s);
      await engine.ok({ writes: [write('doc', [s.c0], [])] });
      await engine.ok({ writes: [write('doc', [bad], [hashOf(s.c0)])] });
      // An honest change after it, by a third actor, depending only on c0.
      const honest = new Replica(3, A.load(s.c0)).change((d) => void (d.after = true));
      const heads = (await engine.cairn.read.heads(SPACE, 'doc', 'main')).heads;
      await engine.ok({ writes: [write('doc', [honest], heads)] });
      const expected = { ...(A.toJS(A.load(s.c0)) as object), after: true };
      for (const pass of ['first', 'again']) {
        for (const seq of [1, 2, 3]) {
          const res = await call(`/docs/doc?seq=${seq}`);
          expect(res.status, `${pass} seq ${seq}`).toBe(200);
          const body = (await res.json()) as {
            value: unknown;
            quarantined?: string[];
            heads: string[];
          };
          const bytes = await call(`/docs/doc?seq=${seq}`, 'application/automerge');
          expect(bytes.status, `${pass} bytes seq ${seq}`).toBe(200);
          const loaded = A.load(new Uint8Array(await bytes.arrayBuffer()));
          expect([...A.getHeads(loaded)].sort(), `${pass} seq ${seq}`).toEqual(
            bytes.headers.get('x-cairn-heads')?.split(','),
          );
          if (seq === 3) {
            expect(body.value, pass).toEqual(expected);
            expect(A.toJS(loaded)).toEqual(expected);
          }
        }
      }
      // After the byte reads at the latest, the change is quarantined and listed.
      const latest = (await (await call('/docs/doc')).json()) as {
        quarantined?: string[];
        value: unknown;
      };
      expect(latest.quarantined).toEqual([hashOf(bad)]);
      expect(latest.value).toEqual(expected);
      const logged = await engine.cairn.reader.withSpace(SPACE, (ops) => ops.quarantined());
      expect([...logged.keys()]).toEqual([hashOf(bad)]);
      // A snapshot of the branch builds, without it.
      const snap = await call('/docs/doc/snapshots');
      void snap;
      const made = await engine.cairn.fetch(
        new Request(`http://x/v1/${SPACE}/docs/doc/snapshots`, { method: 'POST', body: '{}' }),
      );
      expect(made.status).toBe(201);
    },
  );

  it('a space with an invariant refuses each of them at commit with InvalidChange', async () => {
    engine.cairn.registerInvariant(SPACE, { name: 'any', check: () => true });
    for (const [name, make] of poisons()) {
      const s = seed();
      const doc = `inv-${name.length}`;
      await engine.ok({ writes: [write(doc, [s.c0], [])] });
      const out = await engine.refused({ writes: [write(doc, [make(s)], [hashOf(s.c0)])] });
      expect(out.error.code, name).toBe('InvalidChange');
    }
  });
});
