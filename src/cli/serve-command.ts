import type { Command } from 'commander';
import { isLoopbackHost, resolveServeConfig, type ServeFlags } from '../app/config.js';
import { createCairn } from '../app/create-cairn.js';
import { createLogger } from '../app/logger.js';
import { listen } from '../app/serve.js';
import { openLegacySource } from '../app/yjs-import.js';
import { UsageError } from './usage-error.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the cairn server')
    .option('--data <dir>', 'data directory for SQLite (env CAIRN_DATA)', undefined)
    .option('--host <host>', 'address to listen on (env CAIRN_HOST, default 127.0.0.1)')
    .option(
      '--port <port>',
      'port to listen on, 0 for any free port (env CAIRN_PORT, default 8787)',
    )
    .option('--database <url>', 'PostgreSQL URL instead of SQLite (env CAIRN_DATABASE_URL)')
    .option('--auth <mode>', 'required | off (env CAIRN_AUTH, default required)')
    .option('--sync <mode>', 'SQLite durability: full | normal (env CAIRN_SYNC, default full)')
    .option(
      '--cors-origins <list>',
      'origins browsers may call from, comma-separated, or * (env CAIRN_CORS_ORIGINS; default: CORS off)',
    )
    .option(
      '--yjs-legacy <store>',
      'lazy migration: a legacy Yjs store read-only, hocuspocus:FILE (env CAIRN_YJS_LEGACY)',
    )
    .option(
      '--yjs-legacy-space <did>',
      'the space legacy docs move into (env CAIRN_YJS_LEGACY_SPACE; needed with --yjs-legacy)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ cairn serve --auth off                       # SQLite in ./data, http://127.0.0.1:8787, no tokens
  $ cairn serve --data /var/lib/cairn --port 9000  # every request needs a UCAN (cairn token --help)
  $ CAIRN_DATABASE_URL=postgres://localhost/cairn cairn serve
  $ cairn serve --yjs-legacy hocuspocus:./hocuspocus.sqlite --yjs-legacy-space did:key:z6Mk…`,
    )
    .action(async (flags: ServeFlags) => {
      await runServe(flags);
    });
}

async function runServe(flags: ServeFlags): Promise<void> {
  let config;
  try {
    config = resolveServeConfig(flags, process.env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const logger = createLogger();
  if (config.auth === 'off') {
    if (!isLoopbackHost(config.host)) {
      throw new UsageError('--auth off is only allowed when listening on a loopback address');
    }
    logger.warn(
      { host: config.host },
      'authorization is OFF: every request is allowed (loopback only)',
    );
  }

  // A request can never take the process down: log, keep serving.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));

  let yjsLegacy;
  if (config.yjsLegacy) {
    try {
      yjsLegacy = {
        source: openLegacySource(config.yjsLegacy.source),
        space: config.yjsLegacy.space,
      };
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const cairn = await createCairn({
    dataDir: config.dataDir,
    sync: config.sync,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    enableServerMerge: process.env.ENABLE_SERVER_MERGE === '1',
    enableAdminRoutes: process.env.CAIRN_ENABLE_ADMIN_ROUTES === '1',
    corsOrigins: config.corsOrigins,
    auth: config.auth,
    logger,
    ...(config.serverKey ? { serverKey: config.serverKey } : {}),
    ...(yjsLegacy ? { yjsLegacy } : {}),
  });
  const server = await listen(cairn, config.host, config.port);
  logger.info(
    {
      host: server.host,
      port: server.port,
      dataDir: config.dataDir,
      serverDid: cairn.identity.did,
    },
    'listening',
  );
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
