import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { CairnError, isCairnError } from '../core/errors.js';
import { applyAndDiff, stateOf } from '../crdt/yjs/yjs-update.js';
import type { RecordSlot } from '../pipeline/chained-write.js';
import type { YjsCommitItem } from './yjs-committer.js';

/** A connection to a doc (a y-websocket session): what it is sent. */
export interface YjsPeer {
  /** An update the doc took (committed, or relayed while storage refuses writes). */
  sendUpdate(update: Uint8Array): void;
  /** An awareness update of other peers (never stored). */
  sendAwareness(update: Uint8Array): void;
}

/** What an update did: committed with a slot, or added nothing. */
export type UpdateOutcome = { applied: 1; slot: RecordSlot } | { applied: 0 };

interface UpdateJob {
  update: Uint8Array;
  /** The peer it came from (not sent back to it); undefined: HTTP. */
  from?: YjsPeer;
  resolve: (outcome: UpdateOutcome) => void;
  reject: (err: unknown) => void;
}

interface ReadJob<T = unknown> {
  read: (doc: Y.Doc) => T;
  resolve: (value: T) => void;
}

/**
 * Reads something (from storage) and applies what it returns without
 * committing it: updates another process committed. Runs between update
 * runs like a read, so it never interleaves with a commit of ours.
 */
interface RemoteJob {
  fetch: (caughtUpTo: number) => Promise<{ updates: Uint8Array[]; upTo: number }>;
  resolve: () => void;
}

export interface OpenDocOptions {
  commit: (item: YjsCommitItem) => Promise<RecordSlot>;
  oversizedUpdateBytes: number;
  /** Storage refused a write: the doc now holds what only memory has (relay mode). */
  onRelayOnly: (doc: OpenYjsDoc) => void;
}

/**
 * One Yjs doc held in memory for its connections (and HTTP writes).
 * Updates and reads go through one queue: a run of updates is applied,
 * committed as a group and only then broadcast; a read (a new client's
 * sync step 2) runs between runs, so nobody ever sees state that is not
 * durable — except in relay mode (SPEC §11 degraded relay), when storage
 * refuses writes and updates from sockets are relayed from memory.
 */
export class OpenYjsDoc {
  readonly awareness: awarenessProtocol.Awareness;
  readonly peers = new Set<YjsPeer>();
  /** Holds content storage does not (relayed while storage refused writes). */
  relayOnly = false;
  /** Commits storage refused, ever (relay recovery checks none came while it ran). */
  refusals = 0;
  /** How long loading it from storage took (undefined: it was new). */
  loadMs: number | undefined;
  /** Every journal row up to this epoch has been applied (catch-up of other processes' commits). */
  caughtUpTo = 0;
  private readonly jobs: (UpdateJob | ReadJob | RemoteJob)[] = [];
  private running = false;

  constructor(
    readonly spaceId: string,
    readonly docId: string,
    readonly doc: Y.Doc,
    private readonly options: OpenDocOptions,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onAwareness);
  }

  /** Whether nothing is queued or running (the doc may be unloaded when it has no peers). */
  get idle(): boolean {
    return !this.running && this.jobs.length === 0;
  }

  /** Applies, commits, then broadcasts an update (see the class comment). */
  update(update: Uint8Array, from?: YjsPeer): Promise<UpdateOutcome> {
    return new Promise((resolve, reject) => this.push({ update, from, resolve, reject }));
  }

  /** Runs `read` on the doc between update runs (the doc holds exactly what is durable then). */
  read<T>(read: (doc: Y.Doc) => T): Promise<T> {
    return new Promise((resolve) => this.push({ read, resolve } as ReadJob));
  }

  /**
   * Applies what another process committed (fetched from storage after
   * `caughtUpTo`) and broadcasts what it adds to this doc; nothing is
   * committed again.
   */
  catchUp(fetch: RemoteJob['fetch']): Promise<void> {
    return new Promise((resolve) => this.push({ fetch, resolve }));
  }

  /** Relays an awareness update from a peer to the others (never stored). */
  applyAwareness(update: Uint8Array, from: YjsPeer): void {
    awarenessProtocol.applyAwarenessUpdate(this.awareness, update, from);
  }

  destroy(): void {
    this.awareness.off('update', this.onAwareness);
    this.awareness.destroy();
    this.doc.destroy();
  }

  private readonly onAwareness = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    const clients = [...changes.added, ...changes.updated, ...changes.removed];
    if (clients.length === 0) return;
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
    for (const p of this.peers) if (p !== origin) p.sendAwareness(update);
  };

  private push(job: UpdateJob | ReadJob | RemoteJob): void {
    this.jobs.push(job);
    if (!this.running) {
      this.running = true;
      void this.run();
    }
  }

  private async run(): Promise<void> {
    try {
      while (this.jobs.length > 0) {
        const head = this.jobs[0] as UpdateJob | ReadJob | RemoteJob;
        if ('read' in head) {
          this.jobs.shift();
          head.resolve(head.read(this.doc));
          continue;
        }
        if ('fetch' in head) {
          this.jobs.shift();
          await this.applyRemote(head);
          continue;
        }
        const end = this.jobs.findIndex((j) => !('update' in j));
        await this.applyRun(this.jobs.splice(0, end < 0 ? this.jobs.length : end) as UpdateJob[]);
      }
    } finally {
      this.running = false;
    }
  }

  private async applyRemote(job: RemoteJob): Promise<void> {
    try {
      const { updates, upTo } = await job.fetch(this.caughtUpTo);
      for (const u of updates) {
        const added = applyAndDiff(this.doc, u, job);
        if (added) this.broadcast(added, undefined);
      }
      this.caughtUpTo = Math.max(this.caughtUpTo, upTo);
    } catch {
      // Storage unreadable now: the next notification catches up from the same epoch.
    }
    job.resolve();
  }

  /** One run of updates: apply each (what it added), commit them as one group, then broadcast. */
  private async applyRun(run: UpdateJob[]): Promise<void> {
    const added: { job: UpdateJob; update: Uint8Array; commit?: Promise<RecordSlot> }[] = [];
    for (const job of run) {
      // An HTTP write is answered only for what is durable: while this doc holds
      // relayed content storage lacks, "applied: 0" (or an update built on that
      // content) would acknowledge durability it does not have (SPEC §11).
      if (!job.from && this.relayOnly) {
        job.reject(
          new CairnError('StorageUnavailable', 'the doc holds relayed updates not yet stored'),
        );
        continue;
      }
      let diff: Uint8Array | undefined;
      try {
        diff = applyAndDiff(this.doc, job.update, job);
      } catch (err) {
        job.reject(
          new CairnError('InvalidChange', 'the update does not apply', {}, { cause: err }),
        );
        continue;
      }
      if (!diff) {
        job.resolve({ applied: 0 });
        continue;
      }
      const item: YjsCommitItem = { docId: this.docId, update: diff };
      if (diff.byteLength > this.options.oversizedUpdateBytes) item.stateWith = stateOf(this.doc);
      added.push({ job, update: diff, commit: this.options.commit(item) });
    }
    for (const a of added) {
      try {
        const slot = await (a.commit as Promise<RecordSlot>);
        this.broadcast(a.update, a.job.from);
        a.job.resolve({ applied: 1, slot });
      } catch (err) {
        this.refused(a.job, a.update, err);
      }
    }
  }

  /**
   * Storage refused the commit. From a socket: relay it anyway (relay mode;
   * it is checkpointed once storage is back). From HTTP: the writer hears
   * the error — its bytes stay in memory only while the doc is open.
   */
  private refused(job: UpdateJob, update: Uint8Array, err: unknown): void {
    this.relayOnly = true;
    this.refusals++;
    this.options.onRelayOnly(this);
    if (job.from && isCairnError(err) && err.code === 'StorageUnavailable') {
      this.broadcast(update, job.from);
      job.resolve({ applied: 0 });
      return;
    }
    job.reject(err);
  }

  private broadcast(update: Uint8Array, from: YjsPeer | undefined): void {
    for (const p of this.peers) if (p !== from) p.sendUpdate(update);
  }
}
