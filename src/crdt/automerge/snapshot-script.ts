import { createRequire } from 'node:module';
import type { SnapshotScript } from '../doc-kind.js';

/**
 * Loads, applies and saves on a worker thread: Automerge work on a big doc
 * takes long enough to stall every request if done on the main thread. The
 * worker checks its inputs and output: a base that does not load to its
 * recorded heads is refused (`BASE_CORRUPT`), and the saved bytes are
 * reloaded and compared. The source is inline, so it runs the same from
 * `dist/` and from sources.
 */
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const A = require(workerData.automergePath);
const sorted = (doc) => [...A.getHeads(doc)].sort();
parentPort.on('message', ({ id, base, tail }) => {
  try {
    let doc = A.init();
    if (base) {
      doc = A.load(base.bytes);
      if (sorted(doc).join() !== [...base.heads].sort().join()) throw new Error('BASE_CORRUPT');
    }
    if (tail.length > 0) doc = A.loadIncremental(doc, Buffer.concat(tail));
    const heads = sorted(doc);
    const bytes = A.save(doc);
    if (sorted(A.load(bytes)).join() !== heads.join()) throw new Error('saved bytes do not reload');
    parentPort.postMessage({ id, bytes, heads });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

export function automergeSnapshotScript(): SnapshotScript {
  const automergePath = createRequire(import.meta.url).resolve('@automerge/automerge');
  return { source: SOURCE, data: { automergePath } };
}
