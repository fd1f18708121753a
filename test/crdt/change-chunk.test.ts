import { deflateRawSync } from 'node:zlib';
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { readChangeChunk } from '../../src/crdt/automerge/change-chunk.js';
import { CairnError } from '../../src/core/errors.js';
import { SeededRandom } from '../helpers/seeded-random.js';

/**
 * The change header decoder reads Automerge's documented chunk format
 * without decoding operations: it must agree with `Automerge.decodeChange`
 * on every real change, and refuse every byte string that is not exactly
 * one well-formed change whose checksum matches.
 */

const LIMITS = { maxOps: 1_000_000, maxBytes: 4 * 1024 * 1024 };

/** Real changes of every shape: maps, lists, text, counters, messages, odd times, two actors. */
function realChanges(count: number, seed: number): Uint8Array[] {
  const rng = new SeededRandom(seed);
  const random = () => rng.next();
  let a = A.init<Record<string, unknown>>();
  let b = A.init<Record<string, unknown>>();
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const useA = random() < 0.6;
    const options = {
      ...(random() < 0.3
        ? { message: `edit ${i} ✓ ${'x'.repeat(Math.floor(random() * 40))}` }
        : {}),
      ...(random() < 0.2 ? { time: Math.floor((random() - 0.5) * 2e9) } : {}),
    };
    const edit = (d: Record<string, unknown>) => {
      if (!d.text) d.text = '';
      if (!d.list) d.list = [];
      A.splice(d, ['text'], 0, 0, 'ab'.repeat(1 + Math.floor(random() * 5)));
      (d.list as unknown[]).push(i, { nested: { n: i } });
      d[`k${i % 17}`] = random() < 0.5 ? i : `v${i}`;
      if (i % 9 === 0) d.counter = new A.Counter(i);
    };
    if (useA) {
      a = A.change(a, options, edit);
      out.push(A.getLastLocalChange(a) as Uint8Array);
    } else {
      b = A.change(b, options, edit);
      out.push(A.getLastLocalChange(b) as Uint8Array);
    }
    if (i % 10 === 9) {
      a = A.merge(a, b);
      b = A.merge(b, a);
    }
  }
  return out;
}

function refusal(bytes: Uint8Array): string {
  try {
    readChangeChunk(bytes, LIMITS);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof CairnError)) throw err;
    return err.code;
  }
}

describe('Automerge change header decoding', () => {
  it('agrees with Automerge.decodeChange on every field of real changes', () => {
    for (const bytes of realChanges(300, 7)) {
      const ours = readChangeChunk(bytes, LIMITS);
      const theirs = A.decodeChange(bytes);
      expect(ours).toMatchObject({
        hash: theirs.hash,
        actor: theirs.actor,
        seq: theirs.seq,
        startOp: theirs.startOp,
        time: theirs.time,
        message: theirs.message ?? null,
        deps: [...theirs.deps].sort(),
        opCount: theirs.ops.length,
      });
      expect(ours.bytes).toBe(bytes);
    }
  });

  it('refuses every single-byte flip of real changes (the checksum covers the body)', () => {
    const changes = realChanges(12, 3);
    let flips = 0;
    for (const bytes of changes) {
      for (let at = 0; at < bytes.length; at++) {
        for (const mask of [0x01, 0x80]) {
          const flipped = Uint8Array.from(bytes);
          flipped[at] = (flipped[at] as number) ^ mask;
          flips++;
          expect(refusal(flipped), `byte ${at} ^ ${mask}`).toBe('InvalidChange');
        }
      }
    }
    expect(flips).toBeGreaterThan(2000);
  });

  it('refuses truncations, trailing bytes, splices of two changes and documents', () => {
    const [one, two] = realChanges(2, 11) as [Uint8Array, Uint8Array];
    for (let n = 0; n < one.length; n++) expect(refusal(one.subarray(0, n))).toBe('InvalidChange');
    expect(refusal(Buffer.concat([one, Buffer.from([0])]))).toBe('InvalidChange');
    expect(refusal(Buffer.concat([one, two]))).toBe('InvalidChange');
    expect(refusal(Buffer.concat([one.subarray(0, 20), two.subarray(20)]))).toBe('InvalidChange');
    const doc = A.save(A.change(A.init<{ a?: number }>(), (d) => void (d.a = 1)));
    expect(refusal(doc)).toBe('InvalidChange');
    expect(refusal(new Uint8Array(0))).toBe('InvalidChange');
  });

  it('counts operations from the header and refuses a change over the limit', () => {
    const change = (n: number) =>
      A.getLastLocalChange(
        A.change(A.init<{ s?: string }>(), (d) => void (d.s = 'y'.repeat(n))),
      ) as Uint8Array;
    const limits = { maxOps: 1001, maxBytes: LIMITS.maxBytes };
    expect(readChangeChunk(change(1000), limits).opCount).toBe(1001);
    expect(() => readChangeChunk(change(1001), limits)).toThrow(
      expect.objectContaining({ code: 'LimitExceeded' }),
    );
  });

  it('reads a compressed change chunk as its canonical uncompressed bytes', () => {
    const plain = realChanges(1, 5)[0] as Uint8Array;
    const bodyAt = 9 + ((plain[9] as number) >= 0x80 ? 2 : 1);
    const deflated = deflateRawSync(plain.subarray(bodyAt));
    const length = [(deflated.length & 0x7f) | (deflated.length > 127 ? 0x80 : 0)];
    if (deflated.length > 127) length.push(deflated.length >> 7);
    const compressed = Buffer.concat([plain.subarray(0, 8), Buffer.from([2, ...length]), deflated]);
    const read = readChangeChunk(compressed, LIMITS);
    expect(read.hash).toBe(A.decodeChange(plain).hash);
    expect(Buffer.from(read.bytes).equals(Buffer.from(plain))).toBe(true);
    // Inflating past the size limit is refused, not buffered.
    expect(() => readChangeChunk(compressed, { maxOps: LIMITS.maxOps, maxBytes: 16 })).toThrow(
      expect.objectContaining({ code: 'InvalidChange' }),
    );
  });

  it('refuses overlong LEB128 and an actor id over 256 bytes', () => {
    const plain = realChanges(1, 9)[0] as Uint8Array;
    // The body length re-encoded in one more byte: an overlong encoding.
    const length = plain[9] as number;
    const overlong = Buffer.concat([
      plain.subarray(0, 9),
      Buffer.from([length | 0x80, 0]),
      plain.subarray(10),
    ]);
    expect(refusal(overlong)).toBe('InvalidChange');
    const long = A.init<{ a?: number }>({ actor: 'ab'.repeat(257) });
    const change = A.getLastLocalChange(A.change(long, (d) => void (d.a = 1))) as Uint8Array;
    expect(refusal(change)).toBe('InvalidChange');
  });
});
