import { Replica, b64 } from '../../test/helpers/changes.js';

/**
 * One writer's pre-generated history of one doc: change k is a small edit
 * made on top of change k-1, and `bodies[k]` is the single-change transaction
 * that sends it (JSON-shaped, as a client would POST it) with the heads after
 * change k-1 as its base heads.
 */
export interface Chain {
  docId: string;
  changes: Uint8Array[];
  bodies: unknown[];
}

export function makeChain(actor: number, docId: string, length: number): Chain {
  const replica = new Replica(actor);
  const changes: Uint8Array[] = [];
  const bodies: unknown[] = [];
  let baseHeads: string[] = [];
  for (let k = 0; k < length; k++) {
    const change = replica.change((d) => {
      d.n = k;
    });
    changes.push(change);
    bodies.push({ writes: [{ docId, baseHeads, changes: [b64(change)] }] });
    baseHeads = replica.heads;
  }
  return { docId, changes, bodies };
}

export function meanBytes(chains: readonly Chain[]): number {
  let n = 0;
  let bytes = 0;
  for (const c of chains) {
    for (const ch of c.changes) {
      n++;
      bytes += ch.byteLength;
    }
  }
  return n === 0 ? 0 : bytes / n;
}
