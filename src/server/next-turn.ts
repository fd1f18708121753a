/**
 * Request bodies at least this big are handled in slices: between reading,
 * parsing, validating and decoding the body the handler gives the event loop
 * a turn, so other requests are served in between instead of waiting for
 * all of it (a 4 MiB transaction is ~60 ms of work in one piece).
 */
export const SLICE_BODY_CHARS = 256 * 1024;

/** Resolves after the event loop has run what was waiting (I/O, timers). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
