import { CairnError } from '../core/errors.js';
import type { DocKindName } from '../core/ids.js';
import { automergeKind } from './automerge/automerge-kind.js';
import type { DocKind } from './doc-kind.js';

/** The kinds this server can store; a kind plugs in by adding its implementation here. */
const KINDS: Partial<Record<DocKindName, DocKind>> = {
  automerge: automergeKind as DocKind,
};

/** The implementation of a document kind; a kind this server does not know is `ValidationError`. */
export function docKind(name: DocKindName): DocKind {
  const kind = KINDS[name];
  if (!kind) throw new CairnError('ValidationError', `documents of kind ${name} are not supported`);
  return kind;
}
