import type { Command } from 'commander';
import { allDocIds } from '../app/compact.js';
import { verifyStoredSpace } from '../app/verify.js';
import { progressBar } from './progress.js';
import { storeOptions, withStore, type StoreFlags } from './store.js';

interface BranchFlags extends StoreFlags {
  space: string;
  doc?: string;
}

/** `cairn spaces list` and `cairn branches list` (SPEC §8). */
export function registerInspectCommands(program: Command): void {
  storeOptions(
    program
      .command('spaces')
      .description('the spaces of a data dir or database')
      .command('list')
      .description('list every space (one DID per line; --json: {spaces: [...]})'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn spaces list --data ./data --json\n  {"spaces":["did:key:z6Mk…"]}',
    )
    .action(async (flags: StoreFlags) => {
      await withStore(flags, async (cairn) => {
        const spaces = (await cairn.backend.listSpaces()).sort();
        console.log(flags.json ? JSON.stringify({ spaces }) : spaces.join('\n'));
      });
    });

  storeOptions(
    program
      .command('branches')
      .description('the branches of a space')
      .command('list')
      .description('list the branches of every doc of a space, or of one doc')
      .requiredOption('--space <did>', 'the space')
      .option('--doc <docId>', 'only this doc'),
  )
    .addHelpText(
      'after',
      "\nExamples:\n  $ cairn branches list --space did:key:z6Mk… --doc notes/1\n  $ cairn branches list --space did:key:z6Mk… --json | jq '.docs[].branches[].name'",
    )
    .action(async (flags: BranchFlags) => {
      await withStore(flags, async (cairn) => {
        const docIds = flags.doc ? [flags.doc] : await allDocIds(cairn, flags.space);
        const docs = [];
        for (const docId of docIds)
          docs.push({ docId, branches: await cairn.read.branches(flags.space, docId) });
        if (flags.json) return console.log(JSON.stringify({ space: flags.space, docs }));
        for (const d of docs) {
          for (const b of d.branches) {
            const from = b.parent ? ` (from ${b.parent} at seq ${b.forkSeq})` : '';
            const state = b.closed
              ? b.mergedInto
                ? ` closed, merged into ${b.mergedInto}`
                : ' closed'
              : '';
            console.log(`${d.docId}\t${b.name}\tseq ${b.seq}${from}${state}`);
          }
        }
      });
    });
}

interface VerifyFlags extends StoreFlags {
  space: string;
}

/** `cairn verify --space S` (SPEC §8): exit 0 when everything matches, 1 when something does not. */
export function registerVerify(program: Command): void {
  storeOptions(
    program
      .command('verify')
      .description(
        "re-derive a space's stored data: every tx record (hashes, links, signature), the log rows each names (change hashes, changesHash, heads) and every snapshot (rootRef, loads to its heads); names the first mismatch",
      )
      .requiredOption('--space <did>', 'the space'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ cairn verify --space did:key:z6Mk…\n  $ cairn verify --space did:key:z6Mk… --json | jq .ok\n\nExit code: 0 all good, 1 something does not match, 2 bad usage.',
    )
    .action(async (flags: VerifyFlags) => {
      const report = await withStore(flags, async (cairn) => {
        const bar = progressBar('verifying', flags.json === true);
        try {
          return await verifyStoredSpace(cairn, flags.space, (phase, done, total) =>
            bar?.update(phase, done, total),
          );
        } finally {
          bar?.stop();
        }
      });
      if (flags.json) console.log(JSON.stringify(report));
      else {
        const { epochs, changes, snapshots } = report.checked;
        const counts = `${epochs} epochs, ${changes} changes, ${snapshots} snapshots`;
        console.log(
          report.ok
            ? `ok: ${counts}`
            : `NOT OK: ${counts}; first: ${report.problems[0]?.where}: ${report.problems[0]?.problem}`,
        );
        for (const p of report.problems.slice(1)) console.log(`  ${p.where}: ${p.problem}`);
      }
      if (!report.ok) process.exitCode = 1;
    });
}
