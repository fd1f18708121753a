/**
 * Internal invariant checks. A failed assertion is a bug in cairn, never bad
 * input: bad input is reported with a `CairnError` before it gets this far.
 */
export class AssertionFailed extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionFailed';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailed(message);
}
