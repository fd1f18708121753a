import type { AutomergeDoc } from '../crdt/materialize.js';

export interface InvariantContext {
  spaceId: string;
  docId: string;
  branch: string;
  /** The document as it would be after the transaction. */
  doc: AutomergeDoc;
  heads: string[];
}

/**
 * A server-side check on the post-state of each written doc (SPEC §2 step 7).
 * Returning false or a string (the reason), or throwing, refuses the whole
 * transaction with `InvariantFailed`: invariants fail closed.
 */
export interface Invariant {
  name: string;
  /** Which docs it applies to (default: all docs of the space). */
  appliesTo?: (docId: string, branch: string) => boolean;
  check: (ctx: InvariantContext) => boolean | string | void | Promise<boolean | string | void>;
}

/** Invariants by space. Only spaces with invariants pay for materializing on commit. */
export class InvariantRegistry {
  private readonly bySpace = new Map<string, Invariant[]>();

  /** Registers an invariant for a space; returns a function that removes it. */
  register(spaceId: string, invariant: Invariant): () => void {
    const list = this.bySpace.get(spaceId) ?? [];
    list.push(invariant);
    this.bySpace.set(spaceId, list);
    return () => {
      const cur = this.bySpace.get(spaceId) ?? [];
      const next = cur.filter((i) => i !== invariant);
      if (next.length) this.bySpace.set(spaceId, next);
      else this.bySpace.delete(spaceId);
    };
  }

  forDoc(spaceId: string, docId: string, branch: string): Invariant[] {
    return (this.bySpace.get(spaceId) ?? []).filter(
      (i) => !i.appliesTo || i.appliesTo(docId, branch),
    );
  }
}
