import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { loadTrace, traceFile } from '../../test/helpers/trace-data.js';
import { hasNonBmp, type SequentialTrace, type TraceTxn } from './trace-replay.js';

/**
 * The Yjs bench's documents, built from the automerge-paper editing trace
 * (../shared/data/traces): its txns as `Y.Text` edits on the root
 * `content`, and a document K× larger made of K copies of the finished
 * trace document.
 */

export const TEXT_ROOT = 'content';

/** The trace, or undefined when the data is absent. Positions must be UTF-16 indexes (no non-BMP text). */
export function loadYjsTrace(): SequentialTrace | undefined {
  const file = traceFile('automerge-paper');
  if (!file) return undefined;
  const trace = loadTrace<SequentialTrace>(file);
  // Positions are code points; Y.Text indexes UTF-16 code units. Equal without non-BMP text.
  if (hasNonBmp(trace))
    throw new Error('the trace has non-BMP text: positions would need converting');
  return trace;
}

/** One trace txn as Y.Text edits (call inside `doc.transact`). */
export function applyTxn(text: Y.Text, txn: TraceTxn): void {
  for (const [pos, del, ins] of txn.patches) {
    if (del > 0) text.delete(pos, del);
    if (ins !== '') text.insert(pos, ins);
  }
}

/** The decoded struct fields a copy rewrites (yjs `Item`, `GC`; `decodeUpdate` leaves a root parent as its name). */
interface DecodedStruct {
  id: Y.ID;
  origin?: Y.ID | null;
  rightOrigin?: Y.ID | null;
  parent?: Y.ID | string | null;
  write(encoder: Y.UpdateEncoderV1, offset: number): void;
}

/**
 * `update` — the whole state of a doc whose structs all come from client
 * `from` (one writer) — as the same structs written by client `to` under
 * the root `root` instead: an independent copy that lands beside the
 * others in one doc, without conflicting with them (so applying K copies
 * stays linear; copies sharing one root would interleave at its start and
 * make integration quadratic). Encoded as yjs does (update format v1:
 * structs of one client, then the delete set).
 */
export function copyUpdate(update: Uint8Array, from: number, to: number, root: string): Uint8Array {
  const { structs, ds } = Y.decodeUpdate(update);
  const first = structs[0];
  if (!first) return update;
  const remap = (id: Y.ID | null | undefined) =>
    id && id.client === from ? Y.createID(to, id.clock) : (id ?? null);
  const enc = new Y.UpdateEncoderV1();
  encoding.writeVarUint(enc.restEncoder, 1);
  encoding.writeVarUint(enc.restEncoder, structs.length);
  enc.writeClient(to);
  encoding.writeVarUint(enc.restEncoder, first.id.clock);
  for (const struct of structs as unknown as DecodedStruct[]) {
    if (struct.id.client !== from) throw new Error('copyUpdate: structs of more than one client');
    struct.id = Y.createID(to, struct.id.clock);
    if (struct instanceof Y.Item) {
      const item: DecodedStruct = struct;
      item.origin = remap(item.origin);
      item.rightOrigin = remap(item.rightOrigin);
      if (typeof item.parent === 'string') item.parent = root;
      else if (item.parent instanceof Y.ID) item.parent = remap(item.parent);
    }
    struct.write(enc, 0);
  }
  encoding.writeVarUint(enc.restEncoder, ds.clients.size);
  for (const [client, items] of ds.clients) {
    enc.resetDsCurVal();
    encoding.writeVarUint(enc.restEncoder, client === from ? to : client);
    encoding.writeVarUint(enc.restEncoder, items.length);
    for (const item of items) {
      enc.writeDsClock(item.clock);
      enc.writeDsLen(item.len);
    }
  }
  return enc.toUint8Array();
}

/** The root of copy `i` of the trace document in the K× document. */
export const copyRoot = (i: number) => `${TEXT_ROOT}-${i}`;

/**
 * Up to `factor` copies of the finished trace document (`state`, written by
 * client `from`), copy i by client 1,000,000 + i under root `content-i`;
 * stops early once `budgetMs` has passed (at least one copy).
 */
export function makeCopies(
  state: Uint8Array,
  from: number,
  factor: number,
  budgetMs: number,
): Uint8Array[] {
  const t0 = performance.now();
  const copies: Uint8Array[] = [];
  for (let i = 0; i < factor; i++) {
    if (i > 0 && performance.now() - t0 > budgetMs) break;
    copies.push(copyUpdate(state, from, 1_000_000 + i, copyRoot(i)));
  }
  return copies;
}

/** Whether `doc` holds `copies` copies of `endContent` (lengths of every root, and the first and last in full). */
export function holdsCopies(doc: Y.Doc, copies: number, endContent: string): boolean {
  for (let i = 0; i < copies; i++) {
    const text = doc.getText(copyRoot(i));
    if (text.length !== endContent.length) return false;
    if ((i === 0 || i === copies - 1) && text.toString() !== endContent) return false;
  }
  return true;
}
