import { assert } from '../core/assert.js';
import { CairnError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { rootRef, sameHeadSet } from '../crdt/heads.js';
import type { JsonValue } from '../crdt/json-value.js';
import {
  docHeads,
  extend,
  loadDoc,
  materialize,
  saveDoc,
  type AutomergeDoc,
} from '../crdt/materialize.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import type { DocCache } from './doc-cache.js';
import { requireBranch, withSpaceReader } from './space-access.js';
import { ancestorsInLogOrder, resolveVersion, type Resolved } from './version-resolver.js';
import {
  commitsOverlapping,
  lineageOf,
  readHistory,
  readHistoryBytes,
  snapshotsBelow,
  type Lineage,
  type LineageSegment,
} from './lineage.js';
import type {
  BranchRecord,
  CommitRecord,
  LogEntry,
  SnapshotMeta,
  SpaceReadOps,
  StorageBackend,
  TxRecordRow,
} from './types.js';

/** A document at one version of one branch. */
export interface DocVersion {
  docId: string;
  branch: string;
  seq: number;
  /** Epoch of the commit that produced this version. */
  epoch: number;
  heads: string[];
  rootRef: string;
  doc: AutomergeDoc;
  /** The doc's JSON (SPEC §3 `value`), converted once per materialized doc; do not mutate. */
  json(): JsonValue;
}

export interface ChangeItem extends LogEntry {
  epoch: number;
  committedAt: number;
}

/**
 * The read path: committed state only, materialized lazily in one batch from
 * the log. Unknown space or doc is `DocNotFound`, unknown branch
 * `BranchNotFound`, unknown version `VersionNotFound`; reads never create
 * anything.
 */
export interface DocReaderOptions {
  cache: DocCache;
  logger?: Logger;
  /** Told about a snapshot that does not load to its recorded heads (it was skipped). */
  onCorruptSnapshot?: (spaceId: string, snapshot: SnapshotMeta, reason: string) => void;
}

/** How point-in-time reads were served, for /metrics and the benches. */
export interface ReadStats {
  fromCache: number;
  fromSnapshot: number;
  fromLog: number;
  corruptSnapshots: number;
}

export class DocReader {
  readonly stats: ReadStats = { fromCache: 0, fromSnapshot: 0, fromLog: 0, corruptSnapshots: 0 };

  constructor(
    private readonly backend: StorageBackend,
    private readonly options: DocReaderOptions,
  ) {}

  withSpace<T>(spaceId: string, fn: (ops: SpaceReadOps) => Promise<T>): Promise<T> {
    return withSpaceReader(this.backend, spaceId, fn);
  }

  async openBranch(
    ops: SpaceReadOps,
    docId: string,
    name: string,
  ): Promise<{ branch: BranchRecord; lineage: Lineage }> {
    const branch = await requireBranch(ops, docId, name);
    return { branch, lineage: await lineageOf(ops, branch) };
  }

  async readDoc(
    spaceId: string,
    docId: string,
    name: string,
    selector: VersionSelector,
  ): Promise<DocVersion> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const v = await resolveVersion(ops, branch, lineage, selector);
      const subset = v.onlyAncestorsOf ? await this.ancestorSubset(ops, lineage, v) : undefined;
      let doc: AutomergeDoc;
      if (subset) {
        doc = materialize(subset);
        this.stats.fromLog++;
      } else {
        doc = await this.materializeAt(ops, spaceId, lineage, v.seq);
      }
      const heads = docHeads(doc);
      return {
        docId,
        branch: name,
        seq: v.seq,
        epoch: v.epoch,
        heads,
        rootRef: rootRef(heads),
        doc,
        json: () => this.options.cache.jsonOf(doc),
      };
    });
  }

  /**
   * `Automerge.save()` bytes of a version. Automerge saves changes in the
   * order it applied them, and orders each batch it loads by itself, so a doc
   * built from a snapshot plus a tail can save differently from one built
   * from the whole log. Bytes therefore always come from one canonical build
   * — the version's changes in log order, loaded in one batch — and are
   * cached; JSON reads, which do not depend on that order, take the fast path.
   */
  async readDocBytes(
    spaceId: string,
    docId: string,
    name: string,
    selector: VersionSelector,
  ): Promise<Omit<DocVersion, 'doc' | 'json'> & { bytes: Uint8Array }> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const v = await resolveVersion(ops, branch, lineage, selector);
      const { cache } = this.options;
      const subset = v.onlyAncestorsOf ? await this.ancestorSubset(ops, lineage, v) : undefined;
      const key = JSON.stringify([
        spaceId,
        ownerOf(lineage, v.seq),
        v.seq,
        subset ? v.onlyAncestorsOf : null,
      ]);
      let saved = cache.getBytes(key);
      if (!saved) {
        const doc = materialize(subset ?? (await readHistoryBytes(ops, lineage, 1, v.seq)));
        saved = { bytes: saveDoc(doc), heads: docHeads(doc) };
        cache.putBytes(key, saved);
      }
      const { bytes, heads } = saved;
      return {
        docId,
        branch: name,
        seq: v.seq,
        epoch: v.epoch,
        heads,
        rootRef: rootRef(heads),
        bytes,
      };
    });
  }

  /**
   * The change bytes of the ancestors of a heads selector, in log order — or
   * undefined when they are the whole log prefix (then it is a plain seq read).
   */
  private async ancestorSubset(
    ops: SpaceReadOps,
    lineage: Lineage,
    v: Resolved,
  ): Promise<Uint8Array[] | undefined> {
    const log = await readHistory(ops, lineage, 1, v.seq, Number.MAX_SAFE_INTEGER, true);
    const keep = ancestorsInLogOrder(log, v.onlyAncestorsOf ?? []);
    return keep.length === log.length ? undefined : keep.map((e) => e.bytes as Uint8Array);
  }

  /**
   * The doc after `seq` changes of this history: from the cache, else from
   * the nearest cached doc or verified snapshot below it plus one batched
   * tail of the log, else from the whole log. The result is cached.
   */
  async materializeAt(
    ops: SpaceReadOps,
    spaceId: string,
    lineage: Lineage,
    seq: number,
  ): Promise<AutomergeDoc> {
    const { cache } = this.options;
    const owner = ownerOf(lineage, seq);
    const hit = cache.get(spaceId, owner, seq);
    if (hit) {
      this.stats.fromCache++;
      return hit;
    }
    let base: { seq: number; doc: AutomergeDoc } | undefined;
    for (const seg of lineage) {
      const near = cache.nearest(spaceId, seg.branchId, Math.min(seg.toSeq, seq));
      if (near && near.seq > (base?.seq ?? 0)) base = near;
    }
    const snap = await this.nearestSnapshot(ops, spaceId, lineage, seq, base?.seq ?? 0);
    if (snap) base = snap;
    const tail = await readHistoryBytes(ops, lineage, (base?.seq ?? 0) + 1, seq);
    const doc = base ? extend(base.doc, tail) : materialize(tail);
    if (snap) this.stats.fromSnapshot++;
    else this.stats.fromLog++;
    cache.put(spaceId, owner, seq, doc);
    return doc;
  }

  /**
   * The verified snapshot with the highest seq in (aboveSeq, seq] of this
   * history. One that does not load to its recorded heads is reported and
   * skipped, never served.
   */
  private async nearestSnapshot(
    ops: SpaceReadOps,
    spaceId: string,
    lineage: Lineage,
    seq: number,
    aboveSeq: number,
  ): Promise<{ seq: number; doc: AutomergeDoc } | undefined> {
    for (const meta of await snapshotsBelow(ops, lineage, seq, aboveSeq)) {
      const bytes = await ops.readSnapshotBytes(meta.id);
      const problem = bytes ? verifySnapshot(bytes, meta) : 'snapshot bytes are gone';
      if (typeof problem !== 'string') {
        this.options.cache.put(spaceId, ownerOf(lineage, meta.seq), meta.seq, problem);
        return { seq: meta.seq, doc: problem };
      }
      this.stats.corruptSnapshots++;
      this.options.logger?.warn(
        { spaceId, snapshotId: meta.id, reason: problem },
        'snapshot ignored',
      );
      this.options.onCorruptSnapshot?.(spaceId, meta, problem);
    }
    return undefined;
  }

  async changes(
    spaceId: string,
    docId: string,
    name: string,
    range: { fromSeq: number; toSeq?: number; limit: number },
  ): Promise<{ items: ChangeItem[]; nextSeq?: number }> {
    return this.withSpace(spaceId, async (ops) => {
      const { branch, lineage } = await this.openBranch(ops, docId, name);
      const toSeq = Math.min(range.toSeq ?? branch.seq, branch.seq);
      const entries = await readHistory(
        ops,
        lineage,
        Math.max(1, range.fromSeq),
        toSeq,
        range.limit,
        true,
      );
      const items = await withCommitInfo(ops, lineage, entries);
      const last = items[items.length - 1];
      const nextSeq = last && last.seq < toSeq ? last.seq + 1 : undefined;
      return nextSeq === undefined ? { items } : { items, nextSeq };
    });
  }

  async txRecord(spaceId: string, epoch: number): Promise<TxRecordRow> {
    return this.withSpace(spaceId, async (ops) => {
      const row = await ops.getTxRecord(epoch);
      if (!row) throw new CairnError('VersionNotFound', `no tx record for epoch ${epoch}`);
      return row;
    });
  }
}

/** Adds the epoch and commit time of each entry from the commits that appended them. */
async function withCommitInfo(
  ops: SpaceReadOps,
  lineage: Lineage,
  entries: LogEntry[],
): Promise<ChangeItem[]> {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) return [];
  const commits = await commitsOverlapping(ops, lineage, first.seq, last.seq);
  let i = 0;
  return entries.map((e) => {
    while (i < commits.length - 1 && (commits[i] as CommitRecord).seqTo < e.seq) i++;
    const c = commits[i];
    assert(c && c.seqFrom <= e.seq && e.seq <= c.seqTo, `no commit covers seq ${e.seq}`);
    return { ...e, epoch: c.epoch, committedAt: c.committedAt };
  });
}

/** The branch whose own log holds `seq` in this history (the key under which its state is cached). */
export function ownerOf(lineage: Lineage, seq: number): number {
  for (const seg of lineage) if (seg.fromSeq <= seq && seq <= seg.toSeq) return seg.branchId;
  return (lineage[lineage.length - 1] as LineageSegment).branchId;
}

/** Loads a snapshot and checks it against its recorded heads and rootRef: the doc, or what is wrong. */
export function verifySnapshot(bytes: Uint8Array, meta: SnapshotMeta): AutomergeDoc | string {
  let doc: AutomergeDoc;
  try {
    doc = loadDoc(bytes);
  } catch (err) {
    return `does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  const heads = docHeads(doc);
  if (!sameHeadSet(heads, meta.heads)) return 'heads differ from the recorded heads';
  if (rootRef(heads) !== meta.rootRef) return 'rootRef differs from the recorded rootRef';
  return doc;
}
