import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import { actorId } from '../../helpers/changes.js';
import { loadTrace, traceFile } from '../../helpers/trace-data.js';

/**
 * Real change bytes to mutate: the first keystrokes of a real editing trace
 * (friendsforever_flat) replayed as Automerge changes (one per trace txn)
 * and as Yjs updates (one per txn), so the fuzzers damage what clients
 * really send. Without the trace the same shapes are generated.
 */

/** The sequential trace format (../shared/data/traces/ATTRIBUTION.md). */
interface SequentialTrace {
  txns: { patches: [number, number, string][] }[];
}

export interface ChangeCorpus {
  /** `trace:<name>` or `generated`. */
  source: string;
  /** Automerge changes of one doc, in order (each depends on the ones before it). */
  automerge: Uint8Array[];
  /** Yjs updates of one doc, in order. */
  yjs: Uint8Array[];
}

/** Keystroke edits as [pos, deleteCount, insert]; `count` of them, from the trace when present. */
function edits(count: number): { source: string; patches: [number, number, string][] } {
  const file = traceFile('friendsforever_flat');
  if (file) {
    const trace = loadTrace<SequentialTrace>(file);
    const patches = trace.txns.slice(0, count).flatMap((t) => t.patches.slice(0, 1));
    return { source: 'trace:friendsforever_flat', patches };
  }
  // Generated: type a sentence, with a deletion every 7th keystroke.
  const text = 'the quick brown fox jumps over the lazy dog, ü ✓ 😀 ';
  const patches: [number, number, string][] = [];
  let len = 0;
  for (let i = 0; patches.length < count; i++) {
    if (i % 7 === 6 && len > 0) {
      patches.push([len - 1, 1, '']);
      len--;
    } else {
      patches.push([len, 0, text[i % text.length]!]);
      len++;
    }
  }
  return { source: 'generated', patches };
}

/** `count` real changes and updates (positions are code points: both CRDTs take them so here). */
export function changeCorpus(count: number): ChangeCorpus {
  const { source, patches } = edits(count);
  let doc = A.change(A.init<{ text: string }>({ actor: actorId(9) }), (d) => (d.text = ''));
  const automerge = [A.getLastLocalChange(doc)!];
  const ydoc = new Y.Doc();
  ydoc.clientID = 9;
  const yjs: Uint8Array[] = [];
  ydoc.on('update', (u: Uint8Array) => yjs.push(u));
  const ytext = ydoc.getText('text');
  for (const [pos, del, ins] of patches) {
    const at = Math.min(pos, [...(doc.text ?? '')].length);
    doc = A.change(doc, (d) => A.splice(d, ['text'], at, del, ins));
    const change = A.getLastLocalChange(doc);
    if (change) automerge.push(change);
    ydoc.transact(() => {
      const yAt = Math.min(at, ytext.length);
      if (del > 0) ytext.delete(yAt, Math.min(del, ytext.length - yAt));
      if (ins) ytext.insert(yAt, ins);
    });
  }
  return { source, automerge, yjs };
}
