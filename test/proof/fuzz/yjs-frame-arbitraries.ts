import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { byteMutation, mutateBytes } from './byte-mutations.js';

/**
 * Arbitraries of y-websocket frames (the y-protocols wire format on
 * `/v1/:space/yjs/:docId`): sync step 1 with real, damaged or random state
 * vectors, step 2 and update messages with real, damaged or random updates,
 * awareness updates likewise, query-awareness and auth messages, unknown
 * message types, garbage varints, truncated frames and text frames.
 */

export interface YjsFrame {
  data: string | Uint8Array;
}

function message(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

/** Real payloads: updates and state vectors of a small doc, and an awareness update. */
function realPayloads(updates: Uint8Array[]): {
  update: Uint8Array[];
  sv: Uint8Array[];
  awareness: Uint8Array;
} {
  const doc = new Y.Doc();
  const sv = [Y.encodeStateVector(doc)];
  for (const u of updates.slice(0, 8)) {
    Y.applyUpdate(doc, u);
    sv.push(Y.encodeStateVector(doc));
  }
  const awareness = new awarenessProtocol.Awareness(new Y.Doc());
  awareness.setLocalState({ user: { name: 'fuzz', color: '#f00' }, cursor: { anchor: 1 } });
  const encoded = awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID]);
  awareness.destroy();
  return { update: updates, sv, awareness: encoded };
}

/** A payload: real, damaged real, or random bytes. */
function payload(real: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const pick = fc.constantFrom(...real);
  return fc.oneof(
    { weight: 3, arbitrary: pick },
    { weight: 3, arbitrary: fc.tuple(pick, byteMutation).map(([b, m]) => mutateBytes(b, m)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  );
}

/** Frames of the y-websocket protocol and around it; `updates` are real updates of one doc. */
export function yjsFrames(updates: Uint8Array[]): fc.Arbitrary<YjsFrame> {
  const real = realPayloads(updates);
  const bin = (data: Uint8Array): YjsFrame => ({ data });
  const sync = (step: number, bytes: Uint8Array) =>
    message((e) => {
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, step);
      encoding.writeVarUint8Array(e, bytes);
    });
  const wellFramed = fc.oneof(
    { arbitrary: payload(real.sv).map((sv) => sync(0, sv)), weight: 3 },
    { arbitrary: payload(real.update).map((u) => sync(1, u)), weight: 3 },
    { arbitrary: payload(real.update).map((u) => sync(2, u)), weight: 3 },
    {
      arbitrary: payload([real.awareness]).map((a) =>
        message((e) => (encoding.writeVarUint(e, 1), encoding.writeVarUint8Array(e, a))),
      ),
      weight: 3,
    },
    fc.constant(message((e) => encoding.writeVarUint(e, 3))),
    fc
      .uint8Array({ maxLength: 16 })
      .map((b) => message((e) => (encoding.writeVarUint(e, 2), encoding.writeUint8Array(e, b)))),
    fc
      .tuple(fc.integer({ min: 3, max: 2 ** 31 }), fc.uint8Array({ maxLength: 8 }))
      .map(([step, b]) => sync(step, b)),
    fc
      .integer({ min: 4, max: 2 ** 31 })
      .map((type) => message((e) => encoding.writeVarUint(e, type))),
  );
  return fc.oneof(
    { weight: 6, arbitrary: wellFramed.map(bin) },
    // Truncated frames and damaged framing (the varints themselves).
    {
      weight: 2,
      arbitrary: fc
        .tuple(wellFramed, byteMutation)
        .map(([f, m]) => bin(mutateBytes(f, { ...m, fixChecksum: false }))),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
          Uint8Array.of(0x00),
          Uint8Array.of(0x00, 0x00),
          Uint8Array.of(0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f),
          Uint8Array.of(0x01, 0x80),
          new Uint8Array(0),
        )
        .map(bin),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s): YjsFrame => ({ data: s })) },
  );
}
