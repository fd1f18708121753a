#!/usr/bin/env node
/**
 * `npm run proof [-- --long] [--backend sqlite|postgres|both] [--only crash|fuzz|hammer]`:
 * the proof suites of "nothing acknowledged is ever lost" — crash (SIGKILL
 * under mixed Automerge/Yjs/KV load; PostgreSQL restarted under load), fuzz
 * (HTTP, WebSocket, change bytes), hammer (100 concurrent transactions on one
 * doc; KV ifRevision writers on one key; two processes on PostgreSQL). CI
 * runs their short forms inside `npm test`; `--long` runs the long forms
 * (CAIRN_PROOF_LONG=1: more kills, more fuzz cases, more rounds; minutes).
 * Builds first (the suites run the built server). A failing property prints
 * its seed; replay it with CAIRN_SEED=<seed>.
 */
import { spawnSync } from 'node:child_process';
import { Command, Option } from 'commander';

const program = new Command('npm run proof --')
  .description('Run the crash, fuzz and hammer proof suites on SQLite and PostgreSQL.')
  .option('--long', 'the long forms (minutes; CAIRN_PROOF_LONG=1)', false)
  .addOption(
    new Option('--backend <kind>', 'which backend project to run')
      .choices(['sqlite', 'postgres', 'both'])
      .default('both'),
  )
  .addOption(new Option('--only <suite>', 'one suite only').choices(['crash', 'fuzz', 'hammer']))
  .option('--seed <n>', 'replay a seed (CAIRN_SEED) in the seeded suites')
  .addHelpText(
    'after',
    `
Examples:
  $ npm run proof                       # short forms, both backends (what CI runs in npm test)
  $ npm run proof -- --long             # long forms: 20+ kills, thousands of fuzz cases
  $ npm run proof -- --only fuzz --backend sqlite --seed 1234`,
  );
program.parse(process.argv);
const opts = program.opts();

const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
};

if (run('npm', ['run', 'build']) !== 0) process.exit(1);
const projects = opts.backend === 'both' ? ['sqlite', 'postgres'] : [opts.backend];
/** Each suite's files (vitest path filters); PostgreSQL-only ones live in test/postgres/. */
const SUITES = {
  crash: ['test/proof/crash-', 'test/postgres/proof-db-restart'],
  fuzz: ['test/proof/fuzz-'],
  hammer: ['test/proof/hammer-', 'test/postgres/proof-hammer-'],
};
const filters = opts.only ? SUITES[opts.only] : ['test/proof/', 'test/postgres/proof-'];
const env = {
  ...(opts.long ? { CAIRN_PROOF_LONG: '1' } : {}),
  ...(opts.seed ? { CAIRN_SEED: String(opts.seed) } : {}),
};
const args = ['vitest', 'run', ...projects.flatMap((p) => ['--project', p]), ...filters];
// Long forms run for minutes per file: lift the per-test timeout.
if (opts.long) args.push('--testTimeout', '1800000', '--hookTimeout', '600000');
process.exit(run('npx', args, env));
