#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CAIRN_VERSION } from '../app/version.js';
import { registerAuthCommands } from './auth-commands.js';
import { registerCompact } from './compact-command.js';
import { registerImportCommands } from './import-commands.js';
import { registerInspectCommands, registerVerify } from './inspect-commands.js';
import { registerKvCommands } from './kv-commands.js';
import { registerMigrate } from './migrate-command.js';
import { registerSnapshotCommands } from './snapshot-commands.js';
import { registerServe } from './serve-command.js';
import { EXIT_USAGE, UsageError } from './usage-error.js';

const program = new Command('cairn')
  .description('cairn: versioned storage and sync server for Automerge documents')
  .version(CAIRN_VERSION, '-V, --version', 'print the version')
  .exitOverride()
  .showHelpAfterError();
registerServe(program);
registerAuthCommands(program);
registerInspectCommands(program);
registerVerify(program);
registerMigrate(program);
registerSnapshotCommands(program);
registerCompact(program);
registerImportCommands(program);
registerKvCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every other commander error is a usage error.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (err instanceof UsageError) {
    console.error(`cairn: ${err.message}`);
    process.exit(EXIT_USAGE);
  }
  console.error(`cairn: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
