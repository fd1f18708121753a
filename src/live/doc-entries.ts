import { YJS_FEED_BRANCH, type CatchUp, type EpochFeed } from '../read/epoch-feed.js';
import type { ReadApi } from '../read/read-api.js';
import { deliveredEntry, yjsEntry, type DeliveredEntry } from './space-feed.js';

/** A doc entry with the seq of the branch it brings the client to. */
export interface DocEntry {
  seq: number;
  /** Undefined: nothing to send (a resuming client missed nothing). */
  entry: DeliveredEntry | undefined;
}

/**
 * A resuming subscription gets at most this many missed changes as changes;
 * more, and the saved doc is smaller and faster to apply (one load).
 */
export const MAX_CATCH_UP_CHANGES = 1000;

/**
 * The doc's current state as a `snapshot` entry (the saved doc), or
 * undefined if the doc or branch does not exist. Used by WebSocket
 * subscriptions and gets, and by SSE streams on named docs.
 */
export async function currentState(
  read: ReadApi,
  spaceId: string,
  docId: string,
  branch: string,
  epochs?: EpochFeed,
): Promise<(DocEntry & { entry: DeliveredEntry }) | undefined> {
  if (branch === YJS_FEED_BRANCH && epochs) {
    // A Yjs doc: its whole state as one update, "seq" being its last commit's epoch.
    const got = await epochs.yjsState(spaceId, docId).catch((err: unknown) => {
      if ((err as { code?: string }).code === 'DocNotFound') return undefined;
      throw err;
    });
    return got && { seq: got.epoch, entry: yjsEntry(docId, got.epoch, [got.state]) };
  }
  try {
    const v = await read.docBytes(spaceId, docId, branch, { kind: 'current' });
    const fields = { docId, branch, seq: v.seq, heads: v.heads, rootRef: v.rootRef };
    return { seq: v.seq, entry: deliveredEntry({ ...fields, kind: 'snapshot', body: v.bytes }, 1) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'DocNotFound' || code === 'BranchNotFound') return undefined;
    throw err;
  }
}

/**
 * For a subscription whose client was handed the branch up to `heldSeq`
 * (0: nothing) and then fell behind: one entry bringing it to now — the
 * changes after `heldSeq`, or the saved doc when that gap is too large.
 * Undefined when the branch does not exist (yet).
 */
export async function catchUpFrom(
  read: ReadApi,
  epochs: EpochFeed,
  at: { spaceId: string; docId: string; branch: string },
  heldSeq: number,
): Promise<DocEntry | undefined> {
  const { spaceId, docId, branch } = at;
  if (branch === YJS_FEED_BRANCH) return currentState(read, spaceId, docId, branch, epochs);
  const missed =
    heldSeq > 0
      ? await epochs.changesAfterSeq(spaceId, docId, branch, heldSeq, MAX_CATCH_UP_CHANGES)
      : undefined;
  return missed ? missedEntry(docId, branch, missed) : currentState(read, spaceId, docId, branch);
}

/**
 * For a client resuming from `sinceEpoch`: only the changes it missed, as
 * one `changes` entry (none when it missed nothing); undefined when the
 * whole state must be sent instead (SPEC §6: the gap is too large or unknown).
 */
export async function missedChanges(
  epochs: EpochFeed,
  spaceId: string,
  docId: string,
  branch: string,
  sinceEpoch: number,
): Promise<DocEntry | undefined> {
  if (sinceEpoch === 0) return undefined;
  const missed = await epochs.changesSince(
    spaceId,
    docId,
    branch,
    sinceEpoch,
    MAX_CATCH_UP_CHANGES,
  );
  return missed ? missedEntry(docId, branch, missed) : undefined;
}

/** Missed changes as one `changes` entry (none when nothing was missed). */
function missedEntry(docId: string, branch: string, missed: CatchUp): DocEntry {
  if (missed.changes.length === 0) return { seq: missed.seq, entry: undefined };
  const fields = { docId, branch, seq: missed.seq, heads: missed.heads, rootRef: missed.rootRef };
  return {
    seq: missed.seq,
    entry: deliveredEntry({ ...fields, kind: 'changes', body: missed.changes }, missed.seqFrom),
  };
}
