import pg from 'pg';
import { afterAll } from 'vitest';
import { PgBackend } from '../../src/storage/postgres/pg-backend.js';
import { createTestDatabase, type TestDatabase } from './backend.js';

/** Databases made by these helpers in one test file; dropped after it. */
const databases: TestDatabase[] = [];

/** Registers the drop of every database the file makes (call once per test file). */
export function dropDatabasesAfterAll(): void {
  afterAll(async () => {
    await Promise.all(databases.splice(0).map((db) => db.drop()));
  });
}

export async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

export async function withClient<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function migratedDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase();
  const backend = await PgBackend.open({ connectionString: db.url, maxConnections: 2 });
  await backend.close();
  return db;
}
