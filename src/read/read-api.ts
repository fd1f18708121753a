import { CairnError } from '../core/errors.js';
import { rootRef } from '../crdt/heads.js';
import { parsePaths, projectPaths } from '../crdt/json-value.js';
import { encodeBase64, encodeBase64Url } from '../protocol/base64.js';
import { decodeCursor, encodeCursor, isDocCursor, isSeqCursor } from '../protocol/cursor.js';
import type { Page } from '../protocol/primitives.js';
import { decodeTxBody } from '../protocol/tx-record.js';
import type { VersionSelector } from '../protocol/version-selector.js';
import type {
  BranchView,
  ChangeItem,
  DocListItem,
  DocView,
  HeadsView,
  HistoryItem,
  TxRecordView,
} from '../protocol/views.js';
import { commitCovering } from '../storage/lineage.js';
import type { BranchRecord } from '../storage/types.js';
import type { DocReader } from './doc-reader.js';
import { docsPage, historyPage } from './history-feed.js';

/** A byte read: the saved doc plus what its headers carry. */
export interface DocBytes {
  bytes: Uint8Array;
  seq: number;
  epoch: number;
  heads: string[];
  rootRef: string;
}

/** Where a changes page starts and ends (`cursor` wins over `fromSeq`). */
export interface ChangesRange {
  fromSeq: number;
  toSeq?: number;
  cursor?: string;
  limit: number;
}

/**
 * The read path as clients see it: every answer is a wire type of
 * `protocol/`, every page uses the one cursor format. The HTTP routes (and
 * later live catch-up) read only through this.
 */
export interface ReadApi {
  doc(
    space: string,
    docId: string,
    branch: string,
    version: VersionSelector,
    paths?: string,
  ): Promise<DocView>;
  docBytes(
    space: string,
    docId: string,
    branch: string,
    version: VersionSelector,
  ): Promise<DocBytes>;
  heads(space: string, docId: string, branch: string): Promise<HeadsView>;
  changes(
    space: string,
    docId: string,
    branch: string,
    range: ChangesRange,
  ): Promise<Page<ChangeItem>>;
  history(
    space: string,
    docId: string,
    branch: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<HistoryItem>>;
  docs(
    space: string,
    prefix: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<DocListItem>>;
  branches(space: string, docId: string): Promise<BranchView[]>;
  txRecord(space: string, epoch: number): Promise<TxRecordView>;
  /** A snapshot's stored bytes, or `SnapshotNotFound`. */
  snapshotBytes(space: string, snapshotId: number): Promise<Uint8Array>;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The ReadApi over a DocReader. */
export function createReadApi(reader: DocReader): ReadApi {
  return {
    async doc(space, docId, branch, version, paths) {
      const v = await reader.readDoc(space, docId, branch, version);
      const value = paths === undefined ? v.json() : projectPaths(v.json(), parsePaths(paths));
      const view: DocView = {
        docId,
        branch,
        seq: v.seq,
        epoch: v.epoch,
        heads: v.heads,
        rootRef: v.rootRef,
        value,
      };
      if (v.quarantined.length > 0) view.quarantined = v.quarantined;
      return view;
    },

    docBytes: (space, docId, branch, version) => reader.readDocBytes(space, docId, branch, version),

    heads: (space, docId, name) =>
      reader.withSpace(space, async (ops) => {
        const { branch, lineage } = await reader.openBranch(ops, docId, name);
        const epoch =
          branch.lastEpoch || ((await commitCovering(ops, lineage, branch.seq))?.epoch ?? 0);
        const parent =
          branch.parentId === null ? undefined : await ops.getBranchById(branch.parentId);
        const view: HeadsView = {
          heads: branch.heads,
          seq: branch.seq,
          epoch,
          rootRef: rootRef(branch.heads),
          closed: branch.closed,
        };
        if (parent) Object.assign(view, { parent: parent.name, forkSeq: branch.forkSeq });
        if (branch.mergedInto !== null) view.mergedInto = branch.mergedInto;
        return view;
      }),

    async changes(space, docId, branch, range) {
      const fromSeq =
        range.cursor === undefined ? range.fromSeq : decodeCursor(range.cursor, isSeqCursor).s;
      const page = await reader.changes(space, docId, branch, { ...range, fromSeq });
      return withCursor(
        page.items.map((e) => ({
          seq: e.seq,
          epoch: e.epoch,
          hash: e.hash,
          actor: e.actor,
          actorSeq: e.actorSeq,
          deps: e.deps,
          committedAt: e.committedAt,
          bytes: encodeBase64(e.bytes as Uint8Array),
        })),
        page.nextSeq === undefined ? undefined : { s: page.nextSeq },
      );
    },

    history(space, docId, name, cursor, limit) {
      const before =
        cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(cursor, isSeqCursor).s;
      return reader.withSpace(space, async (ops) => {
        const page = await historyPage(
          ops,
          await reader.openBranch(ops, docId, name),
          before,
          limit,
        );
        return withCursor(
          page.items,
          page.nextBeforeSeq === undefined ? undefined : { s: page.nextBeforeSeq },
        );
      });
    },

    async docs(space, prefix, cursor, limit) {
      const after = cursor === undefined ? null : decodeCursor(cursor, isDocCursor).d;
      try {
        const page = await reader.withSpace(space, (ops) => docsPage(ops, prefix, after, limit));
        return withCursor(
          page.items,
          page.nextAfter === undefined ? undefined : { d: page.nextAfter },
        );
      } catch (err) {
        // An unknown space simply has no docs.
        if (err instanceof CairnError && err.code === 'DocNotFound') return { items: [] };
        throw err;
      }
    },

    branches: (space, docId) =>
      reader.withSpace(space, async (ops) => {
        const branches = await ops.listBranches(docId);
        if (branches.length === 0)
          throw new CairnError('DocNotFound', `no doc ${docId}`, { docId });
        const names = new Map(branches.map((b) => [b.id, b.name]));
        return branches.map((b) =>
          branchView(b, b.parentId === null ? null : (names.get(b.parentId) ?? null)),
        );
      }),

    async txRecord(space, epoch) {
      const row = await reader.txRecord(space, epoch);
      const body = decodeTxBody(row.body);
      const view: TxRecordView = {
        epoch: row.epoch,
        committedAt: row.committedAt,
        txHash: hex(row.txHash),
        prevTxHash: hex(row.prevTxHash),
        bodyHash: hex(row.bodyHash),
        serverSig: encodeBase64Url(row.serverSig),
        serverDid: row.serverDid,
        space: body.space,
        writes: body.writes,
      };
      if (body.clientDid) view.clientDid = body.clientDid;
      return view;
    },

    snapshotBytes: (space, snapshotId) => reader.snapshotBytes(space, snapshotId),
  };
}

function withCursor<T>(items: T[], next: Record<string, string | number> | undefined): Page<T> {
  return next === undefined ? { items } : { items, nextCursor: encodeCursor(next) };
}

/** A branch as the API shows it (SPEC §4). */
export function branchView(b: BranchRecord, parent: string | null): BranchView {
  return {
    name: b.name,
    parent,
    forkSeq: b.parentId === null ? null : b.forkSeq,
    forkHeads: b.parentId === null ? null : b.forkHeads,
    heads: b.heads,
    seq: b.seq,
    closed: b.closed,
    mergedInto: b.mergedInto,
    createdAt: b.createdAt,
  };
}
