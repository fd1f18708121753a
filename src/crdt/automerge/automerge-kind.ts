import { createHash } from 'node:crypto';
import { CairnError } from '../../core/errors.js';
import type {
  ChangeHistory,
  DecodeLimits,
  DocKind,
  KindChange,
  WriteLocation,
} from '../doc-kind.js';
import {
  changesOfSaved,
  docHeads,
  estimateDocBytes,
  extend,
  loadDoc,
  materialize,
  saveDoc,
  type AutomergeDoc,
} from './automerge-doc.js';
import { readChangeChunk } from './change-chunk.js';
import { docToJson } from './to-json.js';

/**
 * SPEC §2 step 5 for Automerge, in order: decodable, duplicate (identity is
 * the change hash), every dep known, the actor's seq exactly one more than
 * its last in the branch (1 for a new actor).
 */
function admitChanges(
  decoded: readonly (KindChange | CairnError)[],
  history: ChangeHistory,
  where: WriteLocation,
): { added: KindChange[]; duplicates: number } {
  const lastSeq = new Map<string, number>();
  const inWrite = new Set<string>();
  const added: KindChange[] = [];
  let duplicates = 0;
  decoded.forEach((c, i) => {
    if (c instanceof CairnError) {
      // InvalidChange, or LimitExceeded for a change over the operation limit.
      throw new CairnError(
        c.code,
        `changes[${i}]: ${c.message}`,
        { ...c.details, ...where, changeIndex: i },
        { cause: c },
      );
    }
    if (history.isKnown(c.hash) || inWrite.has(c.hash)) {
      duplicates++;
      return;
    }
    const missing = c.deps.find((d) => !history.isKnown(d) && !inWrite.has(d));
    if (missing !== undefined) {
      throw new CairnError('MissingDependency', `changes[${i}]: dependency ${missing} is unknown`, {
        ...where,
        changeIndex: i,
        hash: missing,
      });
    }
    const expected = (lastSeq.get(c.actor) ?? history.lastSeq(c.actor)) + 1;
    if (c.seq !== expected) {
      throw new CairnError(
        'NonMonotonicSeq',
        `changes[${i}]: actor ${c.actor} seq ${c.seq}, expected ${expected}`,
        { ...where, changeIndex: i },
      );
    }
    lastSeq.set(c.actor, c.seq);
    inWrite.add(c.hash);
    added.push(c);
  });
  return { added, duplicates };
}

/** Stored changes were checked when they came in: read back, only the format's bounds apply. */
const NO_LIMITS: DecodeLimits = { maxOps: Number.MAX_SAFE_INTEGER, maxBytes: 2 ** 31 - 1 };

/** sha256 over the 32 raw bytes of each change hash, in seq order (the tx body's `changesHash`). */
function contentDigest(changes: readonly { hash: string }[]): string {
  const h = createHash('sha256');
  for (const c of changes) h.update(Buffer.from(c.hash, 'hex'));
  return h.digest('hex');
}

/** JSON converts and the saved bytes load back to the same heads. */
function verify(doc: AutomergeDoc): string | undefined {
  try {
    docToJson(doc);
  } catch (err) {
    return `the doc does not convert to JSON: ${(err as Error).message}`;
  }
  const heads = docHeads(doc).join();
  try {
    if (docHeads(loadDoc(saveDoc(doc))).join() !== heads)
      return 'the saved doc reloads to other heads';
  } catch (err) {
    return `the saved doc does not load again: ${(err as Error).message}`;
  }
  return undefined;
}

/** Automerge documents: the first document kind, and the one every route of SPEC §2-§5 serves. */
export const automergeKind: DocKind<AutomergeDoc> = {
  name: 'automerge',
  decodeChange: (bytes, limits = NO_LIMITS) => readChangeChunk(bytes, limits),
  admitChanges,
  materialize,
  extend,
  load: loadDoc,
  save: saveDoc,
  heads: docHeads,
  toJson: docToJson,
  estimateBytes: estimateDocBytes,
  changesOfSaved,
  contentDigest,
  verify,
  // Beside this file: its .ts source under the test runner, its .js build in dist/.
  workerModule: new URL(
    import.meta.url.endsWith('.ts') ? './automerge-worker.ts' : './automerge-worker.js',
    import.meta.url,
  ),
};
