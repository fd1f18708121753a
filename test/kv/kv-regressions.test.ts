import { afterEach, describe, expect, it } from 'vitest';
import { OTHER_SPACE, SPACE, startEngine, type TestEngine } from '../helpers/engine.js';

/** Bugs of extension KV storage found by the model and concurrency tests, each pinned down. */

let e: TestEngine | undefined;
let clockMs = Date.UTC(2026, 0, 1);
afterEach(async () => {
  await e?.close();
  e = undefined;
});

describe('KV regressions', () => {
  it('lists of a space that does not exist never create it (not even the one that would clean up)', async () => {
    e = await startEngine({ kv: { cleanupEveryLists: 4 } });
    const { cairn } = e;
    await cairn.kv(SPACE).put('app', 'ns', { key: 'k', value: 1 });
    for (let i = 0; i < 9; i++) {
      const res = await cairn.fetch(
        new Request(`http://cairn.test/v1/${OTHER_SPACE}/kv/app/ns/records?limit=5`),
      );
      expect(res.status).toBe(200);
      expect(await cairn.kv(OTHER_SPACE).list('app', 'ns')).toEqual({ items: [] });
    }
    // Closing runs whatever is queued (a cleanup a list started would be): then look.
    await e.reopen();
    expect(await e.cairn.backend.listSpaces()).toEqual([SPACE]);
  });

  it('with cleanupPerWrite 0, a write over a quota still removes the expired records first', async () => {
    clockMs = Date.UTC(2026, 0, 1);
    e = await startEngine({
      clock: () => clockMs,
      kv: { cleanupPerWrite: 0, keysPerNamespace: 2 },
    });
    const kv = e.cairn.kv(SPACE);
    await kv.put('app', 'ns', { key: 'a', value: 1, ttlSeconds: 60 });
    await kv.put('app', 'ns', { key: 'b', value: 1, ttlSeconds: 61 });
    clockMs += 61_000;
    // No write removes expired records on its own (0 per write): both still count.
    await kv.delete('app', 'ns', 'nothing');
    expect(await kv.usage('app')).toMatchObject({ keys: 2 });
    // A third key would break keysPerNamespace: the put removes both, then fits.
    expect((await kv.put('app', 'ns', { key: 'c', value: 1 })).created).toBe(true);
    expect(await kv.usage('app')).toMatchObject({ keys: 1, bytesUsed: 3, namespaces: 1 });
  });

  it('a delete of a missing key and the cleanup of a never-written install store no rows', async () => {
    e = await startEngine({ kv: { cleanupEveryLists: 2 } });
    const kv = e.cairn.kv(SPACE);
    await kv.put('app', 'ns', { key: 'k', value: 1 });
    expect(await kv.delete('app', 'other-ns', 'missing')).toBe(false);
    for (let i = 0; i < 4; i++) await kv.list('never-written', 'ns');
    expect(await e.cairn.kvService.sweep(SPACE, 'never-written')).toBe(0);
    const rows = await e.cairn.backend
      .acquireSpace(SPACE, { create: false })
      .then(async (lease) => {
        try {
          const ops = lease!.store.reader;
          return {
            otherNs: await ops.kv.namespace('app', 'other-ns'),
            installs: (await ops.kv.usage('never-written')).keys,
          };
        } finally {
          lease!.release();
        }
      });
    expect(rows.otherNs).toBeUndefined();
    expect(rows.installs).toBe(0);
  });
});
