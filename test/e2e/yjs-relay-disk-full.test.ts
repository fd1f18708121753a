import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createCairn } from '../../src/app/create-cairn.js';
import { listen } from '../../src/app/serve.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { connectProvider, synced, until } from '../helpers/yjs-provider.js';

/**
 * SPEC §11 degraded relay with a real full disk (SQLite on a 12 MiB tmpfs
 * this test mounts; it needs root, else it says so and is skipped): two
 * stock y-websocket providers keep editing and keep seeing each other's
 * edits while the journal cannot be written, HTTP writes answer 503,
 * /readyz and /debug say `yjs.degraded`; once space is freed the server
 * checkpoints the relayed state by itself and storage holds every edit.
 */

const SPACE = 'did:key:z6MkYjsRelay';
const tmpfs = TEST_BACKEND === 'sqlite' ? mountTmpfs('cairn-yjs-full-', 12) : undefined;
const mounted = tmpfs?.mounted === true;
const mountPoint = tmpfs?.dir ?? '';
if (TEST_BACKEND === 'sqlite' && !mounted) {
  console.log('skipped: the Yjs relay disk-full test needs root to mount a tmpfs');
}

describe.skipIf(!mounted)('Yjs relay mode on a full disk', () => {
  it('keeps relaying between providers, refuses HTTP writes, and checkpoints every relayed edit once space is back', async () => {
    const cairn = await createCairn({ dataDir: path.join(mountPoint, 'data'), auth: 'off' });
    const server = await listen(cairn, '127.0.0.1', 0);
    const url = `http://127.0.0.1:${server.port}`;
    const api = (p: string, init?: RequestInit) => fetch(`${url}${p}`, init);
    const a = connectProvider(url, SPACE, 'doc');
    const b = connectProvider(url, SPACE, 'doc');
    const filler = path.join(mountPoint, 'filler.bin');
    try {
      await Promise.all([synced(a.provider), synced(b.provider)]);
      a.doc.getText('t').insert(0, 'stored ');
      await until(() => b.doc.getText('t').toString() === 'stored ', 'the first edit');

      // Fill the disk: a file takes all but a little, then big updates take the rest.
      const { bavail, bsize } = fs.statfsSync(mountPoint);
      fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 256 * 1024), 1));
      const writer = new Y.Doc();
      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) {
        writer.getText('big').insert(0, 'x'.repeat(64 * 1024));
        status = (
          await api(`/v1/${SPACE}/yjs/filler/updates`, {
            method: 'POST',
            body: Y.encodeStateAsUpdate(writer),
          })
        ).status;
      }
      expect(status).toBe(503);

      // The providers keep editing and keep seeing each other, from memory.
      for (let i = 0; i < 5; i++) {
        a.doc.getText('t').insert(a.doc.getText('t').length, `a${i} `);
        b.doc.getText('t').insert(0, `b${i} `);
      }
      await until(
        () =>
          a.doc.getText('t').toString() === b.doc.getText('t').toString() &&
          a.doc.getText('t').length > 30,
        'a and b converge while storage is full',
      );
      await until(() => cairn.yjs.degradedDocs > 0, 'the doc is in relay mode');
      const ready = await api('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toMatch(/yjs\.degraded/);
      const debug = (await (await api('/debug')).json()) as { yjs: { degraded: boolean } };
      expect(debug.yjs.degraded).toBe(true);
      const refused = await api(`/v1/${SPACE}/yjs/doc/updates`, {
        method: 'POST',
        body: Y.encodeStateAsUpdate(a.doc),
      });
      expect(refused.status).toBe(503);

      fs.rmSync(filler);
      await until(() => cairn.yjs.degradedDocs === 0, 'relay mode ends once space is back');
      const res = await api(`/v1/${SPACE}/yjs/doc`);
      const storedDoc = new Y.Doc();
      Y.applyUpdate(storedDoc, new Uint8Array(await res.arrayBuffer()));
      expect(storedDoc.getText('t').toString()).toBe(a.doc.getText('t').toString());
      expect((await api('/readyz')).status).toBe(200);
    } finally {
      a.close();
      b.close();
      await server.close(0);
      tmpfs?.unmount();
    }
  });
});
