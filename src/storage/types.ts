import type { DocKindName } from '../core/ids.js';
import type { KvReadOps, KvWriteOps } from './kv-types.js';
import type { YjsReadOps, YjsWriteOps } from './yjs-types.js';

/**
 * The narrow layer between the engine and a database. The pipeline and the
 * read path are written once against these interfaces; each backend
 * (SQLite, PostgreSQL) implements them with its own SQL. Branch-level
 * primitives only: composing a branch with its ancestors (lineage) is shared
 * code in `lineage.ts`.
 */

/** A branch with its current tip, derived from its last commit (or its fork point). */
export interface BranchRecord {
  /** Row id, unique within the space. */
  id: number;
  docId: string;
  name: string;
  /** The kind of the doc (every branch of a doc has the same). */
  kind: DocKindName;
  parentId: number | null;
  /** Seq of the parent's log this branch was forked at (its own log starts at forkSeq + 1). */
  forkSeq: number;
  forkHeads: string[];
  closed: boolean;
  mergedInto: string | null;
  createdAt: number;
  /** Log length (including the inherited part). */
  seq: number;
  heads: string[];
  /** Epoch of the last commit that touched this branch (0 if none). */
  lastEpoch: number;
}

export interface NewBranch {
  docId: string;
  name: string;
  kind: DocKindName;
  parentId: number | null;
  forkSeq: number;
  forkHeads: string[];
  createdAt: number;
}

/** One write of one transaction on one branch: its seq range and the heads after it. */
export interface CommitRecord {
  branchId: number;
  epoch: number;
  seqFrom: number;
  seqTo: number;
  heads: string[];
  committedAt: number;
}

/**
 * One change as the log stores it, whatever the doc's kind: its identity
 * (hash), author and the author's counter, causal deps, and its bytes.
 */
export interface ChangeRecord {
  hash: string;
  actor: string;
  seq: number;
  deps: readonly string[];
  bytes: Uint8Array;
}

/** One entry of a branch log. `bytes` only when asked for. */
export interface LogEntry {
  seq: number;
  hash: string;
  actor: string;
  actorSeq: number;
  deps: string[];
  bytes?: Uint8Array;
}

/**
 * A saved document at one seq of one branch (`Automerge.save()`), with the
 * heads it must have when loaded: a cache, always rebuildable from the log.
 */
export interface SnapshotMeta {
  id: number;
  branchId: number;
  seq: number;
  heads: string[];
  rootRef: string;
  /** Made on request: kept beyond the retention of automatic snapshots. */
  pinned: boolean;
  createdAt: number;
  /** Size of the saved bytes. */
  size: number;
}

export type NewSnapshot = Omit<SnapshotMeta, 'id' | 'size'> & { bytes: Uint8Array };

/** A tx chain record as stored (SPEC §3 `GET /v1/:space/tx/:epoch`). */
export interface TxRecordRow {
  epoch: number;
  committedAt: number;
  txHash: Uint8Array;
  prevTxHash: Uint8Array;
  bodyHash: Uint8Array;
  serverSig: Uint8Array;
  serverDid: string;
  /** The deterministic (DAG-CBOR) encoding whose SHA-256 is `bodyHash`. */
  body: Uint8Array;
}

/** The newest record of the space's tx chain; epoch 0 and 32 zero bytes when empty. */
export interface ChainTip {
  epoch: number;
  txHash: Uint8Array;
  committedAt: number;
}

export const EMPTY_CHAIN_TIP: Readonly<ChainTip> = Object.freeze({
  epoch: 0,
  txHash: new Uint8Array(32),
  committedAt: 0,
});

export interface StoredReceipt {
  epoch: number;
  receiptJson: string;
  createdAt: number;
}

/** Reads. Inside a write batch they also see that batch's uncommitted writes. */
export interface SpaceReadOps {
  /** The space's Yjs docs (SPEC §11), in the same connection and transaction. */
  readonly yjs: YjsReadOps;
  /** The space's extension KV records (SPEC §12), in the same connection and transaction. */
  readonly kv: KvReadOps;
  chainTip(): Promise<ChainTip>;
  getBranch(docId: string, name: string): Promise<BranchRecord | undefined>;
  getBranchById(id: number): Promise<BranchRecord | undefined>;
  listBranches(docId: string): Promise<BranchRecord[]>;
  /** The kind of a doc (from any of its branches), or undefined if it has none. */
  docKind(docId: string): Promise<DocKindName | undefined>;
  /** Doc ids after `afterDocId` (exclusive) in byte order, starting with `prefix`. */
  listDocIds(prefix: string, afterDocId: string | null, limit: number): Promise<string[]>;
  /** For each given hash in the branch's own log at seq ≤ maxSeq: its seq. */
  findInBranch(
    branchId: number,
    hashes: readonly string[],
    maxSeq: number,
  ): Promise<Map<string, number>>;
  /** Own log entries of a branch with fromSeq ≤ seq ≤ toSeq, in seq order, at most `limit`. */
  readBranchLog(
    branchId: number,
    fromSeq: number,
    toSeq: number,
    limit: number,
    withBytes: boolean,
  ): Promise<LogEntry[]>;
  /** Change bytes of a branch's own log, fromSeq ≤ seq ≤ toSeq, in seq order. */
  readBranchBytes(branchId: number, fromSeq: number, toSeq: number): Promise<Uint8Array[]>;
  /**
   * Highest seq of each actor in the branch's history (actors absent from the
   * map have none). A fork gets its ancestors' seqs copied when it is created.
   */
  actorSeqs(branchId: number, actors: readonly string[]): Promise<Map<string, number>>;
  /** Highest actor seq per actor among the branch's own log entries fromSeq..toSeq. */
  actorMaxima(branchId: number, fromSeq: number, toSeq: number): Promise<Map<string, number>>;
  /** The commit of the branch whose seq range contains `seq`. */
  commitCovering(branchId: number, seq: number): Promise<CommitRecord | undefined>;
  /** Own commits of the branch whose last seq is in [fromSeq, toSeq], in seq order. */
  commitsEndingIn(branchId: number, fromSeq: number, toSeq: number): Promise<CommitRecord[]>;
  /** The last commit of the branch with epoch ≤ `epoch`. */
  lastCommitUpTo(branchId: number, epoch: number): Promise<CommitRecord | undefined>;
  /**
   * The tx records with `afterEpoch` < epoch ≤ `upToEpoch`, in epoch order,
   * at most `limit`. Each record's body lists the writes of its commit (doc,
   * branch, seq range, heads after): the live feed reads what an epoch
   * committed from here, by the chain's primary key (no index of its own).
   */
  txRecordsAfter(afterEpoch: number, upToEpoch: number, limit: number): Promise<TxRecordRow[]>;
  /** Epoch of the last commit of the space at or before `ms`, or 0. */
  epochAtTime(ms: number): Promise<number>;
  getTxRecord(epoch: number): Promise<TxRecordRow | undefined>;
  getReceipt(clientTxId: string): Promise<StoredReceipt | undefined>;
  /** Own commits of the branch ending below `beforeSeq`, newest first, at most `limit`. */
  commitsBefore(branchId: number, beforeSeq: number, limit: number): Promise<CommitRecord[]>;
  /** How many own log entries (and change bytes) the branch has after `afterSeq`. */
  logSizeAfter(branchId: number, afterSeq: number): Promise<{ changes: number; bytes: number }>;
  /** The branch's own snapshot with the highest seq ≤ `maxSeq`. */
  nearestSnapshot(branchId: number, maxSeq: number): Promise<SnapshotMeta | undefined>;
  getSnapshot(id: number): Promise<SnapshotMeta | undefined>;
  readSnapshotBytes(id: number): Promise<Uint8Array | undefined>;
  /** The branch's own snapshots, newest (highest seq) first. */
  listSnapshots(branchId: number): Promise<SnapshotMeta[]>;
  /**
   * Changes of the space found unusable after they were accepted (their ops
   * do not apply): hash → why. Reads leave them, and what depends on them, out.
   */
  quarantined(): Promise<Map<string, string>>;
  /** The epoch up to which a live client said it holds the branch (SPEC §6 resume). */
  clientAck(clientId: string, docId: string, branch: string): Promise<number | undefined>;
}

/** A live client's acknowledgement of one branch: it holds it as of `epoch`. */
export interface ClientAck {
  clientId: string;
  docId: string;
  branch: string;
  epoch: number;
}

/** Writes, available only inside `SpaceStore.writeBatch`. */
export interface SpaceWriteOps extends SpaceReadOps {
  readonly yjs: YjsWriteOps;
  readonly kv: KvWriteOps;
  createBranch(branch: NewBranch): Promise<BranchRecord>;
  /**
   * Appends one commit: `changes` become seqs commit.seqFrom…commit.seqTo of
   * the branch's own log, with the commit's epoch, time and heads after.
   * Change bytes are stored once per space, addressed by hash.
   */
  appendCommit(commit: CommitRecord, changes: readonly ChangeRecord[]): Promise<void>;
  closeBranch(branchId: number, mergedInto: string | null): Promise<void>;
  /** Removes a branch that has no log entries of its own (undoing a fork); false if it has some. */
  dropEmptyBranch(branchId: number): Promise<boolean>;
  /** Sets the branch's highest actor seqs (a fork inherits its ancestors' at the fork point). */
  setActorSeqs(branchId: number, seqs: ReadonlyMap<string, number>): Promise<void>;
  putSnapshot(snapshot: NewSnapshot): Promise<number>;
  deleteSnapshots(ids: readonly number[]): Promise<void>;
  /** The tx records of a batch, in epoch order, in as few statements as the backend can. */
  appendTxRecords(rows: readonly TxRecordRow[]): Promise<void>;
  putReceipt(clientTxId: string, receipt: StoredReceipt): Promise<void>;
  /** Records quarantined changes (a hash already recorded keeps its first reason). */
  quarantine(entries: readonly { hash: string; reason: string; foundAt: number }[]): Promise<void>;
  /** Forgets receipts created before `beforeMs`; returns how many. */
  pruneReceipts(beforeMs: number): Promise<number>;
  /** Records acknowledgements (a later one for the same client, doc and branch replaces it). */
  putClientAcks(acks: readonly ClientAck[], atMs: number): Promise<void>;
  /** Forgets acknowledgements last written before `beforeMs`; returns how many. */
  pruneClientAcks(beforeMs: number): Promise<number>;
}

/** One space's storage. */
export interface SpaceStore {
  readonly spaceId: string;
  /** Committed state only. */
  readonly reader: SpaceReadOps;
  /**
   * Runs `fn` inside one database transaction; commits it durably if `fn`
   * says so, else rolls it back (a batch that only refused costs no fsync).
   * Calls for one space must not overlap (the space's writer queue
   * guarantees it). If `fn` throws, or the commit fails, nothing is kept.
   */
  writeBatch<T>(fn: (ops: SpaceWriteOps) => Promise<BatchResult<T>>): Promise<T>;
}

export interface BatchResult<T> {
  result: T;
  commit: boolean;
}

/** A space store held open; `release` lets the handle LRU close it again. */
export interface SpaceLease {
  readonly store: SpaceStore;
  /** The space was not registered before this lease: it exists once a batch commits. */
  readonly isNew: boolean;
  release(): void;
}

export interface StorageBackend {
  readonly kind: 'sqlite' | 'postgres';
  /** Opens a space, creating it if `create` (never from a read). Undefined if absent. */
  acquireSpace(spaceId: string, options: { create: boolean }): Promise<SpaceLease | undefined>;
  /**
   * Settles a space opened with `isNew` after its first batch (lease
   * released): registers it if the batch committed, else removes every trace
   * of it, so a refused transaction never creates a space.
   */
  settleNewSpace(spaceId: string, committed: boolean): Promise<void>;
  listSpaces(): Promise<string[]>;
  /** Server-wide settings (the server key lives here). */
  getSetting(key: string): Promise<string | undefined>;
  /** Stores `value` unless the key exists; returns the value that is stored. */
  putSettingIfAbsent(key: string, value: string): Promise<string>;
  /** Schema version of the backend's databases (for /debug and `cairn migrate status`). */
  schemaVersion(): Promise<number>;
  /** Database handles held open now (SQLite: open spaces; PostgreSQL: pooled connections). */
  openHandles(): number;
  /**
   * Whether storage takes writes now (`/readyz`): a cheap probe that never
   * waits long — SQLite: the data dir is writable and has room; PostgreSQL:
   * a `SELECT 1` within a short timeout. Undefined when ready, else why not.
   */
  probeWritable(): Promise<string | undefined>;
  /**
   * Commits made by other processes on the same database (PostgreSQL): calls
   * `commit(spaceId, epoch)` after each, and `resync()` after a gap in which
   * notifications may have been missed (then every live reader re-reads the
   * current epochs). Absent on backends only one process can write (SQLite).
   * Returns a stop function.
   */
  watchCommits?(handlers: CommitWatcher): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** What `StorageBackend.watchCommits` reports to. */
export interface CommitWatcher {
  commit(spaceId: string, epoch: number): void;
  resync(): void;
}
