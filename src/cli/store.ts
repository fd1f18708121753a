import type { Command } from 'commander';
import { createCairn, type Cairn } from '../app/create-cairn.js';
import type { SchemaTarget } from '../app/schema.js';
import { CairnError } from '../core/errors.js';
import { UsageError } from './usage-error.js';

export interface StoreFlags {
  data?: string;
  database?: string;
  json?: boolean;
}

/**
 * Opens the data dir or database the way `cairn serve` does (a SQLite data
 * dir in use by a running server is refused, naming its process), runs
 * `fn`, closes. Auth is off: the CLI is the operator on the machine.
 */
export async function withStore<T>(
  flags: StoreFlags,
  fn: (cairn: Cairn) => Promise<T>,
): Promise<T> {
  let cairn: Cairn;
  try {
    cairn = await createCairn({ ...targetOf(flags), auth: 'off' });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  try {
    return await fn(cairn);
  } catch (err) {
    if (err instanceof CairnError) throw new UsageError(err.message);
    throw err;
  } finally {
    await cairn.close();
  }
}

/** The data dir or database a command's flags (or their environment variables) name. */
export function targetOf(flags: StoreFlags): SchemaTarget {
  const databaseUrl = flags.database ?? process.env.CAIRN_DATABASE_URL;
  return databaseUrl
    ? { databaseUrl }
    : { dataDir: flags.data ?? process.env.CAIRN_DATA ?? './data' };
}

export const storeOptions = (c: Command) =>
  c
    .option('--data <dir>', 'SQLite data directory (env CAIRN_DATA, default ./data)')
    .option('--database <url>', 'PostgreSQL URL instead (env CAIRN_DATABASE_URL)')
    .option('--json', 'print JSON');
