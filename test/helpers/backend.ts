import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** Which backend this test run exercises: the `postgres` vitest project sets CAIRN_TEST_BACKEND. */
export const TEST_BACKEND: 'sqlite' | 'postgres' =
  process.env.CAIRN_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database in the run's cluster (one per engine or server
 * under test). The cluster's default collation is "C" (`initdb
 * --no-locale`); `icuLocale` gives the database a linguistic default
 * collation instead (e.g. 'en-US', where 'a' < 'Z'), for tests of an order
 * that must not depend on it.
 */
export async function createTestDatabase(
  options: { icuLocale?: string } = {},
): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  if (!adminUrl) throw new Error('no PostgreSQL cluster: run the postgres vitest project');
  const name = `cairn_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const collation = options.icuLocale
      ? ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE ${admin.escapeLiteral(options.icuLocale)} LOCALE 'C'`
      : '';
    await admin.query(`CREATE DATABASE ${name}${collation}`);
  } finally {
    await admin.end();
  }
  return {
    url: adminUrl.replace(/\/postgres$/, `/${name}`),
    drop: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
