/**
 * Short or long form of the proof suites (issue "Load, crash and fuzz").
 * CI runs the short forms inside `npm test` (a few minutes in all);
 * `npm run proof -- --long` sets CAIRN_PROOF_LONG=1 for the long forms.
 * A suite picks its sizes with `proofScale(short, long)` and prints them,
 * so a log says which form ran.
 */
export const PROOF_LONG = process.env.CAIRN_PROOF_LONG === '1';

/** `short` in CI, `long` under `npm run proof -- --long`. */
export function proofScale<T>(short: T, long: T): T {
  return PROOF_LONG ? long : short;
}
