import { assert } from '../core/assert.js';

/**
 * A numbered schema step with its exact inverse. Versions of one list are
 * dense from 1; `schema_migrations` in each database records which are applied.
 */
export interface Migration {
  version: number;
  name: string;
  up: string;
  down: string;
}

/** Applies or reverts one migration and reads which ones are applied (per dialect). */
export interface MigrationExecutor {
  appliedVersions(): Promise<number[]>;
  /** Runs `sql` and records (`up`) or forgets (`down`) the version, atomically. */
  run(migration: Migration, direction: 'up' | 'down'): Promise<void>;
}

export interface MigrationStatus {
  current: number;
  latest: number;
  pending: number[];
}

export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    assert(m.version === i + 1, `migration ${m.name} must have version ${i + 1}`);
  });
}

export async function migrationStatus(
  exec: MigrationExecutor,
  migrations: readonly Migration[],
): Promise<MigrationStatus> {
  checkMigrationList(migrations);
  const applied = new Set(await exec.appliedVersions());
  const current = Math.max(0, ...applied);
  const pending = migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  return { current, latest: migrations.length, pending };
}

/** Applies every pending migration in order. Idempotent: a second call does nothing. */
export async function migrateUp(
  exec: MigrationExecutor,
  migrations: readonly Migration[],
): Promise<number[]> {
  const { pending, latest, current } = await migrationStatus(exec, migrations);
  assert(current <= latest, `database is at schema ${current}, newer than this cairn (${latest})`);
  for (const version of pending) {
    await exec.run(migrations[version - 1] as Migration, 'up');
  }
  return pending;
}

/** Reverts exactly the newest applied migration; returns its version, or undefined at 0. */
export async function migrateDown(
  exec: MigrationExecutor,
  migrations: readonly Migration[],
): Promise<number | undefined> {
  const { current } = await migrationStatus(exec, migrations);
  if (current === 0) return undefined;
  const migration = migrations[current - 1];
  assert(migration !== undefined, `unknown applied migration ${current}`);
  await exec.run(migration, 'down');
  return current;
}
