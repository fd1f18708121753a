import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { CairnError } from '../../core/errors.js';
import type { KindChange } from '../doc-kind.js';

/**
 * Automerge's binary change format, read without decoding the operations
 * (Automerge's `decodeChange` materializes every op as a JS object and does
 * not check the checksum). The chunk is
 *
 *   magic (85 6f 4a 83) · checksum (4) · type (1) · uLEB length · body
 *
 * where checksum = the first 4 bytes of SHA-256(type ‖ length ‖ body) and
 * that SHA-256 is the change hash. A change body is deps, actor, seq,
 * startOp, time, message, other actors, the op column specs, the columns and
 * extra bytes. The op count is the row count of the action column (run
 * lengths only, never the ops themselves).
 */

const MAGIC = [0x85, 0x6f, 0x4a, 0x83];
const TYPE_CHANGE = 1;
const TYPE_COMPRESSED = 2;
/** Column id 4, type 2 (uLEB integers, RLE): one row per op. */
const ACTION_COLUMN_ID = 4;
const COLUMN_DEFLATE_BIT = 0b1000;
/** Longer actor ids are refused (real ones are 16 bytes; the id is stored per space). */
export const MAX_ACTOR_BYTES = 256;

/** A change's header fields, its op count and its canonical (uncompressed) bytes. */
export interface ChangeHeader extends KindChange {
  startOp: number;
  /** Number of operations (rows of the action column). */
  opCount: number;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public at: number,
    readonly end: number,
  ) {}

  need(n: number): void {
    if (n < 0 || this.at + n > this.end) throw malformed('truncated');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.at++] as number;
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** Unsigned LEB128 as Automerge reads it: no overlong encodings, at most a safe integer. */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw malformed('overlong LEB128');
        if (!Number.isSafeInteger(result)) throw malformed('LEB128 too large');
        return result;
      }
      scale *= 128;
      if (i >= 8) throw malformed('LEB128 too large');
    }
  }

  /** Signed LEB128 (two's complement), no overlong encodings, within the safe range. */
  sleb(): number {
    let result = 0n;
    let shift = 0n;
    let prev = 0;
    for (let i = 0; ; i++) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) {
        const overlong = (b === 0 && (prev & 0x40) === 0) || (b === 0x7f && (prev & 0x40) !== 0);
        if (i > 0 && overlong) throw malformed('overlong LEB128');
        if (b & 0x40) result -= 1n << shift;
        const n = Number(result);
        if (!Number.isSafeInteger(n)) throw malformed('LEB128 too large');
        return n;
      }
      prev = b;
      if (i >= 9) throw malformed('LEB128 too large');
    }
  }
}

function malformed(why: string): CairnError {
  return new CairnError('InvalidChange', `not an Automerge change: ${why}`);
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Reads and checks one change: magic, a change chunk (a compressed one is
 * inflated, bounded by `maxBytes`), exact length, checksum, header fields,
 * column layout, and at most `maxOps` operations (`LimitExceeded` above).
 * Anything else is `InvalidChange`. `bytes` of the result are the canonical
 * uncompressed chunk, the bytes the hash names.
 */
export function readChangeChunk(
  input: Uint8Array,
  limits: { maxOps: number; maxBytes: number },
): ChangeHeader {
  const r = new Reader(input, 0, input.length);
  for (const m of MAGIC) if (r.byte() !== m) throw malformed('bad magic bytes');
  const checksum = r.take(4);
  const type = r.byte();
  const length = r.uleb();
  const bodyStart = r.at;
  if (bodyStart + length !== input.length) throw malformed('length does not match the bytes');
  let bytes = input;
  if (type === TYPE_COMPRESSED)
    bytes = inflate(input.subarray(bodyStart), checksum, limits.maxBytes);
  else if (type !== TYPE_CHANGE) throw malformed(`chunk type ${type} is not a change`);
  const hashBytes = sha256(bytes.subarray(8));
  for (let i = 0; i < 4; i++)
    if (hashBytes[i] !== checksum[i]) throw malformed('checksum mismatch');
  return readBody(bytes, hex(hashBytes), limits.maxOps);
}

function readBody(bytes: Uint8Array, hash: string, maxOps: number): ChangeHeader {
  const outer = new Reader(bytes, 9, bytes.length);
  const length = outer.uleb();
  const r = new Reader(bytes, outer.at, outer.at + length);
  const depCount = r.uleb();
  r.need(depCount * 32);
  const deps: string[] = [];
  for (let i = 0; i < depCount; i++) deps.push(hex(r.take(32)));
  const actorLength = r.uleb();
  if (actorLength > MAX_ACTOR_BYTES) throw malformed(`actor id over ${MAX_ACTOR_BYTES} bytes`);
  const actor = hex(r.take(actorLength));
  const seq = r.uleb();
  const startOp = r.uleb();
  if (startOp === 0) throw malformed('startOp is zero');
  const time = r.sleb();
  const message = utf8(r.take(r.uleb()));
  const others = r.uleb();
  for (let i = 0; i < others; i++) r.take(r.uleb());
  const opCount = countOps(r, maxOps);
  if (opCount > maxOps) {
    throw new CairnError(
      'LimitExceeded',
      `a change has at most ${maxOps} operations (${opCount})`,
      {
        limit: 'maxChangeOps',
      },
    );
  }
  deps.sort();
  return {
    hash,
    actor,
    seq,
    startOp,
    time,
    message: message === '' ? null : message,
    deps,
    bytes,
    opCount,
  };
}

/**
 * Walks the column specs (sorted, none deflated) and counts the action
 * column's rows, stopping as soon as there are more than `maxOps`.
 */
function countOps(r: Reader, maxOps: number): number {
  const columns = r.uleb();
  const specs: { spec: number; length: number }[] = [];
  let total = 0;
  let last = -1;
  for (let i = 0; i < columns; i++) {
    const spec = r.uleb();
    const length = r.uleb();
    if (spec > 0xffffffff) throw malformed('column spec too large');
    if (spec & COLUMN_DEFLATE_BIT) throw malformed('compressed columns in a change');
    if (spec < last) throw malformed('columns out of order');
    last = spec;
    specs.push({ spec, length });
    total += length;
  }
  r.need(total);
  let at = r.at;
  let ops = 0;
  for (const { spec, length } of specs) {
    if (spec >>> 4 === ACTION_COLUMN_ID) ops = rleRows(new Reader(r.buf, at, at + length), maxOps);
    at += length;
  }
  return ops;
}

/** Rows of an RLE column of uLEB values (runs, literal runs, null runs); stops past `max`. */
function rleRows(r: Reader, max: number): number {
  let rows = 0;
  while (r.at < r.end && rows <= max) {
    const count = r.sleb();
    if (count > 0) {
      r.uleb();
      rows += count;
    } else if (count < 0) {
      // A literal run past the limit is not read to its end: the change is refused anyway.
      if (rows - count > max) return rows - count;
      for (let i = 0; i < -count; i++) r.uleb();
      rows -= count;
    } else {
      rows += r.uleb();
    }
    if (!Number.isSafeInteger(rows)) throw malformed('too many rows');
  }
  return rows;
}

/** A compressed change chunk: its body inflated (bounded), re-framed as a plain change chunk. */
function inflate(body: Uint8Array, checksum: Uint8Array, maxBytes: number): Uint8Array {
  let inner: Buffer;
  try {
    inner = inflateRawSync(body, { maxOutputLength: maxBytes });
  } catch {
    throw malformed('compressed chunk does not inflate (or inflates past the size limit)');
  }
  const length = uleb128(inner.length);
  const out = new Uint8Array(9 + length.length + inner.length);
  out.set(MAGIC, 0);
  out.set(checksum, 4);
  out[8] = TYPE_CHANGE;
  out.set(length, 9);
  out.set(inner, 9 + length.length);
  return out;
}

function uleb128(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed('message is not UTF-8');
  }
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
