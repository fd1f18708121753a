import type { DocKindName } from '../core/ids.js';
import type { AutomergeDoc } from '../crdt/automerge/automerge-doc.js';

/** What an invariant sees of an Automerge doc after the transaction. */
export interface AutomergeInvariantContext {
  spaceId: string;
  docId: string;
  branch: string;
  kind: 'automerge';
  /** The document as it would be after the transaction. */
  doc: AutomergeDoc;
  heads: string[];
}

/**
 * The post-state an invariant checks, by document kind (narrow on `kind`;
 * each kind that supports invariants adds its member here).
 */
export type InvariantContext = AutomergeInvariantContext;

/** The context for a doc materialized by its kind's implementation. */
export function invariantContext(
  spaceId: string,
  docId: string,
  branch: string,
  kind: DocKindName,
  doc: unknown,
  heads: string[],
): InvariantContext {
  if (kind !== 'automerge') throw new Error(`invariants do not support ${kind} documents yet`);
  return { spaceId, docId, branch, kind, doc: doc as AutomergeDoc, heads };
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
