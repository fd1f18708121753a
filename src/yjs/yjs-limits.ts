/** The limits of Yjs documents (SPEC §11), each with its reason. */
export interface YjsLimits {
  /**
   * An update larger than this is never one journal row: it goes into a
   * checkpoint at its epoch (chunked), so no row is ever larger than what a
   * database handles comfortably in one value.
   */
  oversizedUpdateBytes: number;
  /** Compaction makes a checkpoint once the journal since the last one passes this many rows… */
  compactAfterUpdates: number;
  /** …or this many bytes. */
  compactAfterBytes: number;
  /** Consecutive compaction failures of a doc before its breaker opens. */
  breakerFailures: number;
  /** First back-off of an open breaker; it doubles up to `breakerMaxBackoffMs`. */
  breakerBackoffMs: number;
  breakerMaxBackoffMs: number;
  /** Journal retention in days (rows older and covered by a checkpoint go); undefined: forever. */
  historyDays?: number;
  /** Published checkpoints kept per doc (older ones go; the journal still covers their span). */
  keepCheckpoints: number;
}

export const DEFAULT_YJS_LIMITS: Readonly<YjsLimits> = Object.freeze({
  oversizedUpdateBytes: 1.5 * 1024 * 1024,
  compactAfterUpdates: 500,
  compactAfterBytes: 1024 * 1024,
  breakerFailures: 3,
  breakerBackoffMs: 60_000,
  breakerMaxBackoffMs: 60 * 60_000,
  keepCheckpoints: 3,
});
