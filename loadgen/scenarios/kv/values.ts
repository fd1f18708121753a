/** The KV limits the plan stays within (cairn defaults, docs/KV.md). */
export const VALUE_MAX_BYTES = 64 * 1024;
export const BULK_ITEMS = 20;
export const BULK_MAX_BYTES = 512 * 1024;
/** Kept under keysPerNamespace (5,120) with room for keys re-created by races. */
export const SOFT_KEYS_PER_NAMESPACE = 5_000;

const PAD = 'x'.repeat(VALUE_MAX_BYTES);

function logUniform(rand: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

/**
 * A value size in bytes, 1–64 KiB skewed small: 80 % 1–1.5 KiB, 15 %
 * 1.5–16 KiB and 5 % 16–64 KiB (log-uniform inside each band).
 */
export function valueBytes(rand: () => number): number {
  const band = rand();
  if (band < 0.8) return 1024 + Math.floor(rand() * 512);
  if (band < 0.95) return logUniform(rand, 1536, 16 * 1024);
  return logUniform(rand, 16 * 1024, VALUE_MAX_BYTES);
}

/** A bulk item's size: the same skew, capped at 16 KiB (20 items stay well under 512 KiB). */
export function bulkItemBytes(rand: () => number): number {
  return Math.min(valueBytes(rand), 16 * 1024);
}

/** A JSON value whose compact JSON is exactly `bytes` long (at least its envelope). */
export function makeValue(bytes: number, tag: string): { t: string; pad: string } {
  const envelope = JSON.stringify({ t: tag, pad: '' }).length;
  return { t: tag, pad: PAD.slice(0, Math.max(0, Math.min(bytes, VALUE_MAX_BYTES) - envelope)) };
}
