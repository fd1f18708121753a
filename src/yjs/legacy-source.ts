import path from 'node:path';
import Database from 'better-sqlite3';
import { CairnError } from '../core/errors.js';

/**
 * Another Yjs server's store that docs move in from (SPEC §11 "Moving in"):
 * read-only — cairn never writes it, so going back to the old server loses
 * nothing written there before the switch.
 */
export interface LegacySource {
  /** What the source is, for logs, /debug and migration markers (e.g. `hocuspocus:docs.sqlite`). */
  readonly description: string;
  /** The stored state of a document (one Yjs update, v1), or undefined when it has none. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Every document name, in the source's own order. */
  names(): Promise<string[]>;
  /** Lets go of the source (its file handle). */
  close(): Promise<void>;
}

/** The query `@hocuspocus/extension-sqlite` reads a document with (its `selectQuery`). */
const SELECT_DATA = 'SELECT data FROM "documents" WHERE name = ? ORDER BY rowid DESC LIMIT 1';
const SELECT_NAMES = 'SELECT name FROM "documents" ORDER BY rowid';

/**
 * A Hocuspocus SQLite database as written by `@hocuspocus/extension-sqlite`:
 * one table `documents(name varchar(255), data blob, UNIQUE(name))`, each
 * row a document's whole state (`Y.encodeStateAsUpdate`). Opened read-only
 * (`readonly`, `fileMustExist`): the file is never created, changed or
 * locked for writing.
 */
export class HocuspocusSource implements LegacySource {
  readonly description: string;
  private readonly db: Database.Database;
  private readonly selectData: Database.Statement<[string], { data: unknown }>;

  /** Opens the file; `ValidationError` when it is missing or not a Hocuspocus database. */
  constructor(readonly file: string) {
    this.description = `hocuspocus:${path.basename(file)}`;
    try {
      this.db = new Database(file, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new CairnError(
        'ValidationError',
        `cannot open ${file}: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    try {
      const columns = this.db.prepare(`PRAGMA table_info("documents")`).all() as { name: string }[];
      const names = new Set(columns.map((c) => c.name));
      if (!names.has('name') || !names.has('data')) throw new Error('no documents(name, data)');
      this.selectData = this.db.prepare(SELECT_DATA);
    } catch (err) {
      this.db.close();
      throw new CairnError(
        'ValidationError',
        `${file} is not a Hocuspocus SQLite database (a table documents(name, data)): ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const row = this.selectData.get(name);
    if (!row) return undefined;
    if (!(row.data instanceof Uint8Array)) {
      throw new CairnError(
        'InvalidChange',
        `document ${name} of ${this.description} is not a blob`,
      );
    }
    return new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength);
  }

  async names(): Promise<string[]> {
    return (this.db.prepare(SELECT_NAMES).all() as { name: unknown }[]).map((r) => String(r.name));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * Opens the legacy store a `--yjs-legacy` value names: `hocuspocus:FILE`
 * (the only kind so far). Anything else is `ValidationError`.
 */
export function openLegacySource(spec: string): LegacySource {
  const at = spec.indexOf(':');
  const kind = at < 0 ? '' : spec.slice(0, at);
  const target = spec.slice(at + 1);
  if (kind !== 'hocuspocus' || target.length === 0) {
    throw new CairnError(
      'ValidationError',
      `a legacy Yjs store is hocuspocus:FILE (a Hocuspocus SQLite database), not "${spec}"`,
    );
  }
  return new HocuspocusSource(target);
}
