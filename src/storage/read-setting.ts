import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { withPgClient } from './schema-admin.js';
import { REGISTRY_FILE } from './sqlite/sqlite-backend.js';

/**
 * Reads one server-wide setting without opening the backend — for CLI
 * commands that run beside a server (which holds the SQLite data dir's
 * lock) or before one ever started. SQLite: the registry file, read-only;
 * PostgreSQL: one query. Undefined when the setting (or the store) does
 * not exist yet.
 */
export async function readSetting(
  where: { dataDir: string } | { databaseUrl: string },
  key: string,
): Promise<string | undefined> {
  if ('databaseUrl' in where) return readPgSetting(where.databaseUrl, key);
  const file = path.join(path.resolve(where.dataDir), REGISTRY_FILE);
  if (!fs.existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  } finally {
    db.close();
  }
}

async function readPgSetting(url: string, key: string): Promise<string | undefined> {
  return withPgClient(url, async (client) => {
    try {
      const res = await client.query('SELECT value FROM settings WHERE key = $1', [key]);
      return (res.rows[0] as { value: string } | undefined)?.value;
    } catch (err) {
      // No settings table: a database no server has started on yet.
      if ((err as { code?: string }).code === '42P01') return undefined;
      throw err;
    }
  });
}
