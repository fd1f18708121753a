import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Hocuspocus } from '@hocuspocus/server';
import { SQLite } from '@hocuspocus/extension-sqlite';
import Database from 'better-sqlite3';
import * as Y from 'yjs';

const WAIT_MS = 10_000;

/** An edit made on a Hocuspocus document (inside one transaction of a direct connection). */
export type DocEdit = (doc: Y.Doc) => void;

/**
 * A real Hocuspocus SQLite database: `@hocuspocus/server` with
 * `@hocuspocus/extension-sqlite` writes each document through a direct
 * connection (`openDirectConnection`, one transaction per edit). Disconnect
 * stores the document before it resolves (`unloadImmediately`, the default
 * of a direct connection), so everything is in the file when this returns.
 * Returns each document's stored bytes as read back from the file.
 */
export async function writeHocuspocusDb(
  file: string,
  docs: Record<string, DocEdit[]>,
): Promise<Map<string, Uint8Array>> {
  const sqlite = new SQLite({ database: file });
  const hocuspocus = new Hocuspocus({ extensions: [sqlite], quiet: true });
  // The extension opens its database in its (not awaited) onConfigure hook.
  const deadline = Date.now() + WAIT_MS;
  while (!sqlite.db) {
    if (Date.now() > deadline) throw new Error('the Hocuspocus SQLite extension did not open');
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    for (const [name, edits] of Object.entries(docs)) {
      const connection = await hocuspocus.openDirectConnection(name);
      for (const edit of edits) await connection.transact((doc) => edit(doc));
      await connection.disconnect();
    }
  } finally {
    sqlite.db.close();
  }
  return readHocuspocusDb(file);
}

/** Every document of a Hocuspocus database (read-only), name → stored bytes. */
export function readHocuspocusDb(file: string): Map<string, Uint8Array> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT name, data FROM documents').all() as {
      name: string;
      data: Buffer;
    }[];
    return new Map(rows.map((r) => [r.name, new Uint8Array(r.data)]));
  } finally {
    db.close();
  }
}

/** Adds a row Hocuspocus would never write (bytes that are not a Yjs update), by hand. */
export function addJunkRow(file: string, name: string, data: Uint8Array): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.prepare('INSERT INTO documents (name, data) VALUES (?, ?)').run(name, Buffer.from(data));
  } finally {
    db.close();
  }
}

export const sha256File = (file: string) =>
  createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The doc one stored state describes. */
export function docOf(bytes: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, bytes);
  return doc;
}

/** Edits the tests put in legacy docs: text with a deletion, a map, an array. */
export const sampleEdits = (title: string): DocEdit[] => [
  (d) => d.getText('content').insert(0, `hello from ${title}, before cairn`),
  (d) => d.getText('content').delete(0, 6),
  (d) => {
    d.getMap('meta').set('title', title);
    d.getMap('meta').set('tags', ['legacy', 'hocuspocus']);
  },
  (d) => d.getArray<number>('list').push([1, 2, 3]),
];

/** The sample roots as JSON, to compare content. */
export const sampleJson = (doc: Y.Doc) => ({
  content: doc.getText('content').toString(),
  meta: doc.getMap('meta').toJSON(),
  list: doc.getArray('list').toJSON(),
});
