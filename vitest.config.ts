import { defineConfig } from 'vitest/config';

/**
 * Two projects, one conformance suite: everything runs on SQLite; the engine,
 * model, trace and end-to-end suites run again on PostgreSQL (a throwaway
 * cluster started by the global setup), plus the PostgreSQL-only tests.
 */
const shared = [
  'test/history/**/*.test.ts',
  'test/pipeline/**/*.test.ts',
  'test/model/**/*.test.ts',
  'test/trace/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/live/**/*.test.ts',
  'test/yjs/**/*.test.ts',
  'test/kv/**/*.test.ts',
  'test/proof/**/*.test.ts',
  'test/server/operations.test.ts',
  'test/cli/migrate-cli.test.ts',
  'test/cli/verify-cli.test.ts',
  'test/cli/snapshot-cli.test.ts',
  'test/cli/compact-cli.test.ts',
  'test/cli/yjs-import-cli.test.ts',
  'test/cli/kv-cli.test.ts',
  'test/storage/commit-index.test.ts',
  'test/storage/yjs-store.test.ts',
  'test/storage/kv-store.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test time waits on I/O, worker threads and PostgreSQL: two files
    // at a time on a 2-core machine (the default would be one).
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/postgres/**'],
          env: { CAIRN_TEST_BACKEND: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...shared, 'test/postgres/**/*.test.ts'],
          env: { CAIRN_TEST_BACKEND: 'postgres' },
          globalSetup: ['test/setup/postgres-global.ts'],
        },
      },
    ],
  },
});
