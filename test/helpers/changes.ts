import * as A from '@automerge/automerge';

export type Doc = A.Doc<Record<string, unknown>>;

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** A deterministic actor id: 16 bytes of hex from a small number. */
export function actorId(n: number): string {
  return n.toString(16).padStart(2, '0').repeat(16);
}

/**
 * A local Automerge replica that records the changes it makes, so tests can
 * send them in any grouping and order.
 */
export class Replica {
  doc: Doc;

  constructor(actor: string | number, from?: Doc) {
    const id = typeof actor === 'number' ? actorId(actor) : actor;
    this.doc = from ? A.clone(from, { actor: id }) : A.init({ actor: id });
  }

  /** Makes one change; returns its bytes. */
  change(fn: (d: Record<string, unknown>) => void, message?: string): Uint8Array {
    this.doc = message ? A.change(this.doc, message, fn) : A.change(this.doc, fn);
    const c = A.getLastLocalChange(this.doc);
    if (!c) throw new Error('change made no ops');
    return c;
  }

  /** Applies changes made elsewhere (one batch). */
  receive(changes: Uint8Array[]): void {
    [this.doc] = A.applyChanges(this.doc, changes);
  }

  get heads(): string[] {
    return [...A.getHeads(this.doc)].sort();
  }

  json(): unknown {
    return JSON.parse(JSON.stringify(A.toJS(this.doc)));
  }
}

export function hashOf(change: Uint8Array): string {
  return A.decodeChange(change).hash as string;
}

/** A write body for one branch. */
export function write(
  docId: string,
  changes: Uint8Array[],
  baseHeads: string[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { docId, baseHeads, changes: changes.map(b64), ...extra };
}
