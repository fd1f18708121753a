import { encode } from 'cborg';
import fc from 'fast-check';
import { b64, Replica } from '../../helpers/changes.js';
import { byteMutation, mutateBytes } from './byte-mutations.js';
import {
  edgeValue,
  garbledJson,
  jsonMutation,
  mutateJson,
  stringifyWithRaw,
} from './json-arbitraries.js';

/**
 * Arbitraries of SPEC §6 live sessions (`GET /v1/:space/ws`): how the
 * session starts (no hello, JSON, CBOR) and the frames sent then — valid
 * invocations and acks, the same mutated once, random JSON and CBOR values,
 * garbage text and bytes, invalid UTF-8 in text frames, frames of the other
 * encoding.
 */

export interface LiveFrame {
  data: string | Uint8Array;
  /** Sent as a binary frame (else text, even when `data` is bytes). */
  binary: boolean;
}

export interface LiveSession {
  start: 'none' | 'json' | 'cbor';
  frames: LiveFrame[];
}

/** Valid invocations and acks (a tx writes a fresh doc with a fresh change). */
function validMessages(docId: string): fc.Arbitrary<unknown> {
  const id = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }));
  return fc.oneof(
    id.map((id) => ({ id, cmd: '/storage/hello', args: { clientId: 'fuzz' } })),
    id.map((id) => ({ id, cmd: '/storage/get', args: { docId } })),
    id.map((id) => ({ id, cmd: '/storage/subscribe', args: { docId, sinceEpoch: 0 } })),
    id.map((id) => ({ id, cmd: '/storage/subscribe', args: { docId: 'ydoc', type: 'yjs' } })),
    id.map((id) => ({ id, cmd: '/storage/unsubscribe', args: { subscriptionId: 's1' } })),
    fc.tuple(id, fc.integer({ min: 1000, max: 1_000_000 })).map(([id, actor]) => {
      const change = new Replica(actor).change((d) => (d.live = actor));
      return {
        id,
        cmd: '/storage/tx',
        args: { writes: [{ docId: `live-${actor}`, changes: [b64(change)] }] },
      };
    }),
    fc.nat({ max: 100 }).map((epoch) => ({ type: 'ack', epoch })),
  );
}

/** A message as JSON text: valid, valid with one mutation, random, or hostile in a known shape. */
function messages(docId: string): fc.Arbitrary<string> {
  const valid = validMessages(docId);
  return fc.oneof(
    { weight: 2, arbitrary: valid.map((v) => JSON.stringify(v)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, jsonMutation)
        .map(([v, m]) => mutateJson(Buffer.from(JSON.stringify(v)), m).toString('utf8')),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    {
      weight: 2,
      arbitrary: fc
        .record({
          id: edgeValue,
          cmd: fc.constantFrom('/storage/hello', '/storage/tx', '/storage/get', '/nope', ''),
          args: edgeValue,
        })
        .map(stringifyWithRaw),
    },
    {
      weight: 1,
      arbitrary: fc.record({ type: edgeValue, epoch: edgeValue }).map(stringifyWithRaw),
    },
  );
}

/** One frame of a session that started with `start`. */
function frame(start: LiveSession['start'], docId: string): fc.Arbitrary<LiveFrame> {
  const text = (s: string): LiveFrame => ({ data: s, binary: false });
  const asText = messages(docId).map(text);
  const asCbor = messages(docId).map((t): LiveFrame => ({ data: cborOf(t), binary: true }));
  const garbageText = garbledJson.map((b): LiveFrame => ({
    data: Uint8Array.from(b),
    binary: false,
  }));
  const garbageBinary = garbledJson.map((b): LiveFrame => ({
    data: Uint8Array.from(b),
    binary: true,
  }));
  const mutatedCbor = fc.tuple(validMessages(docId), byteMutation).map(([v, m]): LiveFrame => ({
    data: mutateBytes(cborOf(JSON.stringify(v)), m),
    binary: true,
  }));
  const mine = start === 'cbor' ? [asCbor, mutatedCbor, cborHostile(docId)] : [asText];
  return fc.oneof(
    ...mine.map((arbitrary) => ({ weight: 4, arbitrary })),
    { weight: 1, arbitrary: start === 'cbor' ? asText : asCbor },
    { weight: 1, arbitrary: garbageText },
    { weight: 1, arbitrary: garbageBinary },
  );
}

/** CBOR only CBOR can carry: deep or unterminated nesting, huge lengths, tags, undefined, non-string keys, raw change bytes. */
function cborHostile(docId: string): fc.Arbitrary<LiveFrame> {
  const bin = (data: Uint8Array): LiveFrame => ({ data, binary: true });
  const change = new Replica(77).change((d) => (d.cbor = true));
  return fc.oneof(
    fc
      .integer({ min: 10, max: 200_000 })
      .map((n) => bin(Uint8Array.from([...Array<number>(n).fill(0x81), 0]))),
    fc.integer({ min: 10, max: 100_000 }).map((n) => bin(new Uint8Array(n).fill(0x9f))),
    fc
      .constantFrom(
        Uint8Array.of(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
        Uint8Array.of(0x7b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x61),
        Uint8Array.of(0xd9, 0xd9, 0xf7, 0xa0),
        Uint8Array.of(0xc1, 0x61, 0x61),
        Uint8Array.of(0xa1, 0x01, 0x02),
        Uint8Array.of(0xf7),
        Uint8Array.of(0xf9, 0x7e, 0x00),
        Uint8Array.of(0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02),
        Uint8Array.of(0xff),
      )
      .map(bin),
    // A tx with its change as a byte string (as CBOR clients send it), the change damaged.
    fc.tuple(fc.nat(), byteMutation).map(([id, m]) =>
      bin(
        encode({
          id,
          cmd: '/storage/tx',
          args: { writes: [{ docId, changes: [mutateBytes(change, m)] }] },
        }),
      ),
    ),
  );
}

/** CBOR of the value of JSON text `t` (text that is not JSON, or too deep to encode, as a CBOR string). */
function cborOf(t: string): Uint8Array {
  try {
    return encode(JSON.parse(t));
  } catch {
    return encode(t);
  }
}

/** Sessions that start with `start`, then send 1-6 frames. */
export function liveSessions(
  docId: string,
  start: LiveSession['start'],
): fc.Arbitrary<LiveSession> {
  return fc
    .array(frame(start, docId), { minLength: 1, maxLength: 6 })
    .map((frames) => ({ start, frames }));
}
