import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend, spaceFileName } from '../../src/storage/sqlite/sqlite-backend.js';
import { hashOf, Replica, write } from '../helpers/changes.js';
import { SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/** Properties of the SQLite layout itself: dedupe, version lookups, the handle LRU. */
describe('SQLite storage', () => {
  let engine: TestEngine;
  beforeEach(async () => {
    engine = await startEngine({ limits: { maxOpenSpaces: 2 } });
  });
  afterEach(async () => {
    await engine.close();
  });

  it('stores the bytes of a change once per space, even when two docs hold it', async () => {
    const c = new Replica(1).change((d) => void (d.shared = true));
    await engine.ok({ writes: [write('a', [c]), write('b', [c])] });
    const db = new Database(path.join(engine.dataDir, 'spaces', spaceFileName(SPACE)), {
      readonly: true,
    });
    try {
      const rows = db
        .prepare('SELECT bytes IS NOT NULL AS stored FROM log WHERE hash = ?')
        .all(Buffer.from(hashOf(c), 'hex'));
      expect(rows).toEqual([{ stored: 1 }, { stored: 0 }]);
    } finally {
      db.close();
    }
    for (const doc of ['a', 'b']) {
      const v = await engine.cairn.reader.readDoc(SPACE, doc, 'main', { kind: 'current' });
      expect(v.heads).toEqual([hashOf(c)]);
    }
  });

  it('finds the right version for every epoch and instant, across interleaved docs', async () => {
    let now = 1_000;
    const timed = await startEngine({ clock: () => now });
    try {
      const replicas = { x: new Replica(1), y: new Replica(2) };
      const heads: Record<string, string[]> = { x: [], y: [] };
      const seqAt: { epoch: number; doc: 'x' | 'y'; seq: number; at: number }[] = [];
      for (let i = 0; i < 60; i++) {
        now += i % 7 === 0 ? 0 : 10; // some commits share a millisecond
        const doc = i % 3 === 0 ? 'y' : 'x';
        const r = replicas[doc];
        const changes = Array.from({ length: 1 + (i % 4) }, (_, k) =>
          r.change((d) => void (d.v = i * 10 + k)),
        );
        const receipt = await timed.ok({ writes: [write(doc, changes, heads[doc])] });
        heads[doc] = receipt.results[0]?.newHeads ?? [];
        seqAt.push({
          epoch: receipt.epoch,
          doc,
          seq: receipt.results[0]?.seq ?? 0,
          at: receipt.committedAt,
        });
      }
      for (const doc of ['x', 'y'] as const) {
        for (let e = 1; e <= 60; e++) {
          const expected = seqAt.filter((s) => s.doc === doc && s.epoch <= e).pop();
          const read = timed.cairn.reader.readDoc(SPACE, doc, 'main', { kind: 'epoch', epoch: e });
          if (!expected) await expect(read).rejects.toMatchObject({ code: 'VersionNotFound' });
          else expect((await read).seq).toBe(expected.seq);
        }
        for (const s of seqAt) {
          const expected = seqAt.filter((o) => o.doc === doc && o.at <= s.at).pop();
          const read = timed.cairn.reader.readDoc(SPACE, doc, 'main', { kind: 'at', ms: s.at });
          if (!expected) await expect(read).rejects.toMatchObject({ code: 'VersionNotFound' });
          else expect((await read).seq).toBe(expected.seq);
        }
      }
    } finally {
      await timed.close();
    }
  });

  it('keeps working with more spaces than open handles (LRU closes idle ones)', async () => {
    const spaces = Array.from({ length: 5 }, (_, i) => `did:key:z6MkLru${i}`);
    for (const [i, space] of spaces.entries()) {
      await engine.ok(
        { writes: [write('d', [new Replica(i + 1).change((d) => void (d.i = i))])] },
        space,
      );
    }
    for (const [i, space] of spaces.entries()) {
      const v = await engine.cairn.reader.readDoc(space, 'd', 'main', { kind: 'current' });
      expect(v.seq).toBe(1);
      expect((v.json() as { i: number }).i).toBe(i);
    }
    expect(await engine.cairn.backend.listSpaces()).toEqual([...spaces].sort());
    expect((engine.cairn.backend as SqliteBackend).openSpaces).toBeLessThanOrEqual(2);
  });
});
