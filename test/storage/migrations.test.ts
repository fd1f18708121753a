import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  migrateDown,
  migrateUp,
  migrationStatus,
  type Migration,
} from '../../src/storage/migrations.js';
import { SPACE_MIGRATIONS } from '../../src/storage/sqlite/space-migrations.js';
import { sqliteMigrationExecutor } from '../../src/storage/sqlite/sqlite-migrator.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const steps: Migration[] = [
  { version: 1, name: 'one', up: 'CREATE TABLE a (x INTEGER)', down: 'DROP TABLE a' },
  { version: 2, name: 'two', up: 'CREATE TABLE b (y INTEGER)', down: 'DROP TABLE b' },
];

describe('migrations', () => {
  const tmp = makeTempDir();
  afterAll(() => tmp.cleanup());
  const open = (name: string) => new Database(path.join(tmp.dir, name));
  const tables = (db: Database.Database) =>
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .pluck()
      .all();

  it('applies pending steps in order and records them; a second run does nothing', async () => {
    const db = open('up.db');
    const exec = sqliteMigrationExecutor(db);
    expect(await migrateUp(exec, steps)).toEqual([1, 2]);
    expect(await migrateUp(exec, steps)).toEqual([]);
    expect(await migrationStatus(exec, steps)).toEqual({ current: 2, latest: 2, pending: [] });
    expect(tables(db)).toEqual(['a', 'b', 'schema_migrations']);
    db.close();
  });

  it('down reverts exactly the newest step', async () => {
    const db = open('down.db');
    const exec = sqliteMigrationExecutor(db);
    await migrateUp(exec, steps);
    expect(await migrateDown(exec, steps)).toBe(2);
    expect(tables(db)).toEqual(['a', 'schema_migrations']);
    expect(await migrationStatus(exec, steps)).toEqual({ current: 1, latest: 2, pending: [2] });
    expect(await migrateDown(exec, steps)).toBe(1);
    expect(await migrateDown(exec, steps)).toBeUndefined();
    expect(tables(db)).toEqual(['schema_migrations']);
    db.close();
  });

  it('does not run a step twice when two connections race to migrate one file', async () => {
    const a = sqliteMigrationExecutor(open('race.db'));
    const b = sqliteMigrationExecutor(open('race.db'));
    await Promise.all([migrateUp(a, steps), migrateUp(b, steps)]);
    expect(await migrationStatus(b, steps)).toMatchObject({ current: 2, pending: [] });
  });

  it('rolls back a failing step together with its record', async () => {
    const db = open('fail.db');
    const exec = sqliteMigrationExecutor(db);
    const bad: Migration[] = [
      ...steps,
      { version: 3, name: 'bad', up: 'CREATE TABLE c (z); SELECT nope()', down: '' },
    ];
    await expect(migrateUp(exec, bad)).rejects.toThrow();
    expect(await migrationStatus(exec, bad)).toMatchObject({ current: 2, pending: [3] });
    expect(tables(db)).not.toContain('c');
    db.close();
  });

  it('space schema goes all the way down and up again', async () => {
    const db = open('space.db');
    const exec = sqliteMigrationExecutor(db);
    await migrateUp(exec, SPACE_MIGRATIONS);
    for (let i = SPACE_MIGRATIONS.length; i > 0; i--)
      expect(await migrateDown(exec, SPACE_MIGRATIONS)).toBe(i);
    expect(tables(db)).toEqual(['schema_migrations']);
    await migrateUp(exec, SPACE_MIGRATIONS);
    expect(tables(db)).toContain('log');
    db.close();
  });
});
