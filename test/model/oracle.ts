import { createHash } from 'node:crypto';
import * as A from '@automerge/automerge';

/**
 * An in-memory model of SPEC §2 for one space, written from the SPEC alone
 * (nothing from src/): per doc (branch main) the known change hashes, the log
 * order, per-actor last seq, the heads, and an Automerge doc of every
 * accepted change.
 */

/** The header fields of a change, as Automerge decodes them. */
export interface ChangeMeta {
  hash: string;
  deps: string[];
  actor: string;
  seq: number;
  bytes: Uint8Array;
}

/** The change header, or null when the bytes are not one Automerge change. */
export function decodeOrNull(bytes: Uint8Array): ChangeMeta | null {
  try {
    const d = A.decodeChange(bytes);
    if (typeof d.hash !== 'string') return null;
    return { hash: d.hash, deps: [...d.deps].sort(), actor: d.actor, seq: d.seq, bytes };
  } catch {
    return null;
  }
}

export function sortedHeads(heads: Iterable<string>): string[] {
  return [...new Set(heads)].sort();
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((h) => sb.has(h));
}

/** SPEC §1 rootRef: sha256 hex of the JSON array of the sorted heads. */
export function rootRefOf(heads: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify(sortedHeads(heads)), 'utf8')
    .digest('hex');
}

export class DocModel {
  readonly known = new Map<string, ChangeMeta>();
  readonly log: string[] = [];
  heads: string[] = [];
  readonly actorSeq = new Map<string, number>();
  doc: A.Doc<unknown> = A.init();
  /** Epoch of the last commit that appended to this doc. */
  lastEpoch = 0;
  /** Every heads state the doc has had, oldest first (for stale picks). */
  readonly headsHistory: string[][] = [[]];

  get exists(): boolean {
    return this.log.length > 0;
  }
}

export interface ModelRead {
  docId: string;
  heads: string[];
}

export interface ModelWrite {
  docId: string;
  baseHeads: string[];
  merge: boolean;
  changes: Uint8Array[];
}

export interface ModelTx {
  reads: ModelRead[];
  writes: ModelWrite[];
}

export interface PredictedWrite {
  docId: string;
  seq: number;
  newHeads: string[];
  applied: number;
  duplicates: number;
  added: ChangeMeta[];
}

export type Prediction =
  | { ok: true; epoch: number; changed: boolean; writes: PredictedWrite[] }
  | {
      ok: false;
      code:
        | 'ReadConflict'
        | 'StaleBaseHeads'
        | 'InvalidChange'
        | 'MissingDependency'
        | 'NonMonotonicSeq';
      docId: string;
      /** Index of the failing write; null for a read-set conflict. */
      failedWrite: number | null;
      currentHeads?: string[];
      changeIndex?: number;
    };

export class SpaceModel {
  epoch = 0;
  readonly docs = new Map<string, DocModel>();

  doc(docId: string): DocModel {
    let m = this.docs.get(docId);
    if (!m) {
      m = new DocModel();
      this.docs.set(docId, m);
    }
    return m;
  }

  /**
   * SPEC §2 steps 3-6 and 8, in order, stopping at the first failure: the read
   * set, then per write the base heads (or merge rules) and per change, in
   * order: decodable, duplicate, deps known, actor seq exactly +1.
   */
  predict(tx: ModelTx): Prediction {
    for (const read of tx.reads) {
      const current = this.docs.get(read.docId)?.heads ?? [];
      if (!sameSet(read.heads, current)) {
        return {
          ok: false,
          code: 'ReadConflict',
          docId: read.docId,
          failedWrite: null,
          currentHeads: current,
        };
      }
    }
    const writes: PredictedWrite[] = [];
    for (const [wi, w] of tx.writes.entries()) {
      const m = this.docs.get(w.docId) ?? new DocModel();
      const decoded = w.changes.map(decodeOrNull);
      const fail = (
        code: Exclude<Extract<Prediction, { ok: false }>['code'], 'ReadConflict'>,
        extra: { currentHeads?: string[]; changeIndex?: number } = {},
      ): Prediction => ({ ok: false, code, docId: w.docId, failedWrite: wi, ...extra });

      // A write whose changes are all in the history is a no-op, whatever its base heads.
      if (m.exists && decoded.every((d) => d !== null && m.known.has(d.hash))) {
        writes.push({
          docId: w.docId,
          seq: m.log.length,
          newHeads: m.heads,
          applied: 0,
          duplicates: decoded.length,
          added: [],
        });
        continue;
      }
      if (!w.merge) {
        if (!sameSet(w.baseHeads, m.heads))
          return fail('StaleBaseHeads', { currentHeads: m.heads });
      } else if (w.baseHeads.some((h) => !m.known.has(h))) {
        return fail('MissingDependency');
      }
      const inWrite = new Set<string>();
      const seqs = new Map(m.actorSeq);
      const added: ChangeMeta[] = [];
      let duplicates = 0;
      for (const [ci, d] of decoded.entries()) {
        if (d === null) return fail('InvalidChange', { changeIndex: ci });
        if (m.known.has(d.hash) || inWrite.has(d.hash)) {
          duplicates++;
          continue;
        }
        if (d.deps.some((h) => !m.known.has(h) && !inWrite.has(h))) {
          return fail('MissingDependency', { changeIndex: ci });
        }
        if (d.seq !== (seqs.get(d.actor) ?? 0) + 1) {
          return fail('NonMonotonicSeq', { changeIndex: ci });
        }
        seqs.set(d.actor, d.seq);
        inWrite.add(d.hash);
        added.push(d);
      }
      const heads = new Set([...m.heads, ...added.map((c) => c.hash)]);
      for (const c of added) for (const dep of c.deps) heads.delete(dep);
      writes.push({
        docId: w.docId,
        seq: m.log.length + added.length,
        newHeads: sortedHeads(heads),
        applied: added.length,
        duplicates,
        added,
      });
    }
    const changed = writes.some((w) => w.applied > 0);
    return { ok: true, epoch: changed ? this.epoch + 1 : this.epoch, changed, writes };
  }

  /** Applies a successful prediction. */
  commit(p: Extract<Prediction, { ok: true }>): void {
    if (!p.changed) return;
    this.epoch = p.epoch;
    for (const w of p.writes) {
      if (w.added.length === 0) continue;
      const m = this.doc(w.docId);
      for (const c of w.added) {
        m.known.set(c.hash, c);
        m.log.push(c.hash);
        m.actorSeq.set(c.actor, c.seq);
      }
      m.heads = w.newHeads;
      m.lastEpoch = p.epoch;
      m.headsHistory.push(w.newHeads);
      [m.doc] = A.applyChanges(
        m.doc,
        w.added.map((c) => c.bytes),
      );
    }
  }
}
