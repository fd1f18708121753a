import type { Command } from 'commander';
import { CairnError } from '../core/errors.js';
import {
  analyzeStorage,
  schemaDown,
  schemaStatus,
  schemaUp,
  type SchemaChange,
  type SchemaState,
} from '../app/schema.js';
import { targetOf, type StoreFlags } from './store.js';
import { UsageError } from './usage-error.js';

type MigrateFlags = StoreFlags;

function stateLine(s: SchemaState): string {
  const files = s.files
    ? ` (${
        Object.entries(s.files)
          .map(([v, n]) => `${n} at ${v}`)
          .join(', ') || 'no space files'
      })`
    : '';
  const pending = s.pending.length > 0 ? `, pending ${s.pending.join(', ')}` : ', up to date';
  return `${s.schema}: version ${s.current} of ${s.latest}${pending}${files}`;
}

function changeLine(c: SchemaChange, verb: string): string {
  const files = c.files !== undefined ? ` in ${c.files} space file(s)` : '';
  return c.versions.length === 0
    ? `${c.schema}: nothing to do`
    : `${c.schema}: ${verb} ${c.versions.join(', ')}${files}`;
}

/** `cairn migrate status|up|down` (SPEC §8). */
export function registerMigrate(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('schema migrations of a data dir (server stopped) or a database: status, up, down')
    .addHelpText(
      'after',
      '\nExamples:\n  $ cairn migrate status --data ./data\n  $ cairn migrate down --database postgres://localhost/cairn --json\n  $ cairn migrate up',
    );
  const withFlags = (c: Command) =>
    c
      .option('--data <dir>', 'SQLite data directory (env CAIRN_DATA, default ./data)')
      .option('--database <url>', 'PostgreSQL URL instead (env CAIRN_DATABASE_URL)')
      .option('--json', 'print JSON');
  const run = async <T>(fn: () => Promise<T>) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CairnError) throw new UsageError(err.message);
      throw err;
    }
  };
  withFlags(
    migrate.command('status').description('the version of each schema, and what is pending'),
  ).action(async (flags: MigrateFlags) => {
    const states = await run(() => schemaStatus(targetOf(flags)));
    console.log(
      flags.json ? JSON.stringify({ schemas: states }) : states.map(stateLine).join('\n'),
    );
  });
  withFlags(migrate.command('up').description('apply every pending step (idempotent)')).action(
    async (flags: MigrateFlags) => {
      const changes = await run(() => schemaUp(targetOf(flags)));
      console.log(
        flags.json
          ? JSON.stringify({ applied: changes })
          : changes.map((c) => changeLine(c, 'applied')).join('\n'),
      );
    },
  );
  withFlags(
    migrate
      .command('down')
      .description(
        'revert exactly the newest step (SQLite: of the space schema, in every space file); never below version 1',
      ),
  ).action(async (flags: MigrateFlags) => {
    const changes = await run(() => schemaDown(targetOf(flags)));
    console.log(
      flags.json
        ? JSON.stringify({ reverted: changes })
        : changes.map((c) => changeLine(c, 'reverted')).join('\n'),
    );
  });

  withFlags(
    program
      .command('analyze')
      .description(
        "refresh the database planner's statistics (SQLite ANALYZE in every file; PostgreSQL ANALYZE)",
      )
      .addHelpText('after', '\nExample:\n  $ cairn analyze --data ./data'),
  ).action(async (flags: MigrateFlags) => {
    const { databases } = await run(() => analyzeStorage(targetOf(flags)));
    console.log(
      flags.json ? JSON.stringify({ analyzed: databases }) : `analyzed ${databases} database(s)`,
    );
  });
}
