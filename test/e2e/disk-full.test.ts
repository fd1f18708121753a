import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { listen } from '../../src/app/serve.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { b64, Replica } from '../helpers/changes.js';
import { LiveTestClient } from '../helpers/live-client.js';

/**
 * SPEC §8 degraded mode with a real full disk: a SQLite data dir on a 12 MiB
 * tmpfs this test mounts (it needs root; without, it says so and is
 * skipped). Filled with changes until writes fail: writes answer 503
 * StorageUnavailable (they do not hang), reads go on, /readyz fails, a
 * live subscriber stays connected and is still answered; after space is
 * freed the server takes writes again by itself, the subscriber gets the
 * next commit, and every acknowledged commit is intact.
 */

const SPACE = 'did:key:z6MkDiskFull';
const tmpfs = TEST_BACKEND === 'sqlite' ? mountTmpfs('cairn-full-', 12) : undefined;
const mounted = tmpfs?.mounted === true;
const mountPoint = tmpfs?.dir ?? '';
if (TEST_BACKEND === 'sqlite' && !mounted) {
  console.log('skipped: disk-full test needs root to mount a tmpfs (no injected-I/O fallback ran)');
}

describe.skipIf(!mounted)('a full disk (SQLite on a 12 MiB tmpfs)', () => {
  it('answers 503 to writes, keeps reads and loses nothing acknowledged; recovers when space is freed', async () => {
    const filler = path.join(mountPoint, 'filler.bin');
    fs.writeFileSync(filler, Buffer.alloc(3 * 1024 * 1024, 1)); // room to give back later
    const cairn = await createCairn({ dataDir: path.join(mountPoint, 'data'), auth: 'off' });
    const server = await listen(cairn, '127.0.0.1', 0);
    const live = await LiveTestClient.connect(`http://127.0.0.1:${server.port}`, SPACE);
    await live.hello('disk-full-subscriber');
    expect((await live.call('/storage/subscribe', { docId: 'after' })).ok).toBeDefined();
    const api = (p: string, init?: RequestInit) =>
      cairn.fetch(new Request(`http://cairn.test${p}`, init));
    const r = new Replica(1);
    const acked: string[][] = [];
    const tx = async (doc: string) => {
      const payload = new Uint8Array(200 * 1024).map((_, i) => (i * 31 + acked.length) % 251);
      const base = r.heads;
      const change = r.change((d) => (d.blob = payload));
      const res = await api(`/v1/${SPACE}/tx`, {
        method: 'POST',
        body: JSON.stringify({ writes: [{ docId: doc, baseHeads: base, changes: [b64(change)] }] }),
      });
      return { res, change };
    };
    try {
      let refused: Response | undefined;
      for (let i = 0; i < 200 && !refused; i++) {
        const { res } = await tx('doc');
        if (res.status === 200) acked.push(r.heads);
        else refused = res;
      }
      expect(refused, 'the disk never filled').toBeDefined();
      expect(refused?.status).toBe(503);
      expect(((await refused?.json()) as { error: { code: string } }).error.code).toBe(
        'StorageUnavailable',
      );
      expect(acked.length).toBeGreaterThan(3);
      // The refused change is not part of the doc: the replica goes back to what was acknowledged.
      const read = await api(`/v1/${SPACE}/docs/doc/heads`);
      expect(read.status).toBe(200);
      const heads = ((await read.json()) as { heads: string[] }).heads;
      expect(heads).toEqual([...(acked.at(-1) as string[])].sort());
      const ready = await api('/readyz');
      expect(ready.status).toBe(503);
      // Live subscribers stay connected while storage refuses writes, and are still answered.
      expect(live.closed).toBeUndefined();
      const got = await live.call('/storage/get', { docId: 'doc' });
      expect(got.error, JSON.stringify(got)).toBeUndefined();

      fs.rmSync(filler);
      // A new writer (the old replica's last change was refused) commits again.
      const again = new Replica(2);
      const res = await api(`/v1/${SPACE}/tx`, {
        method: 'POST',
        body: JSON.stringify({
          writes: [
            { docId: 'after', baseHeads: [], changes: [b64(again.change((d) => (d.ok = true)))] },
          ],
        }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect((await api('/readyz')).status).toBe(200);
      const pushed = await live.waitFor(
        (f) => f.type === 'deliver' && !!f.docs?.some((d) => d.docId === 'after'),
      );
      expect(pushed.docs?.[0]?.heads).toEqual(again.heads);
      expect(live.closed).toBeUndefined();
      const final = await api(`/v1/${SPACE}/docs/doc/heads`);
      expect(((await final.json()) as { heads: string[] }).heads).toEqual(heads);
    } finally {
      live.close();
      await server.close(0);
      tmpfs?.unmount();
    }
  });
});
