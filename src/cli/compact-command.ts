import type { Command } from 'commander';
import { compactSpace, reclaimCompactedSpace, type CompactReport } from '../app/compact.js';
import { progressBar } from './progress.js';
import { storeOptions, targetOf, withStore, type StoreFlags } from './store.js';
import { UsageError } from './usage-error.js';

interface CompactFlags extends StoreFlags {
  space?: string;
  doc?: string;
  reclaim: boolean;
}

/** `cairn compact` (SPEC §5, §8): snapshots owed, retention applied, free pages given back. */
export function registerCompact(program: Command): void {
  storeOptions(
    program
      .command('compact')
      .description(
        'snapshot every branch head that owes changes since its last snapshot, drop the snapshots the retention policy no longer keeps, then give free pages back (SQLite VACUUM of each space file)',
      )
      .option('--space <did>', 'only this space (default: every space)')
      .option('--doc <docId>', 'only this doc (needs --space)')
      .option('--no-reclaim', 'skip giving free pages back to the file system'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ cairn compact --data ./data\n  $ cairn compact --space did:key:z6Mk… --doc notes/1 --json\n\nThe server must be stopped for a SQLite data dir (it is refused while one runs).',
    )
    .action(async (flags: CompactFlags) => {
      if (flags.doc && !flags.space) throw new UsageError('--doc needs --space');
      const bar = progressBar('compacting', flags.json === true);
      let reports: CompactReport[];
      try {
        const compacted = await withStore(flags, async (cairn) => {
          const spaces = flags.space ? [flags.space] : (await cairn.backend.listSpaces()).sort();
          if (flags.space && !(await cairn.backend.listSpaces()).includes(flags.space)) {
            throw new UsageError(`no space ${flags.space}`);
          }
          const out = [];
          for (const space of spaces) {
            out.push(
              await compactSpace(cairn, space, {
                ...(flags.doc ? { docId: flags.doc } : {}),
                onProgress: (done, total) => bar?.update(shortId(space), done, total),
              }),
            );
          }
          return out;
        });
        reports = [];
        for (const r of compacted) {
          const reclaimed = flags.reclaim
            ? await reclaimCompactedSpace(targetOf(flags), r.space)
            : { bytesBefore: null, bytesAfter: null };
          reports.push({ ...r, ...reclaimed });
        }
      } finally {
        bar?.stop();
      }
      if (flags.json) return console.log(JSON.stringify({ spaces: reports }));
      for (const r of reports) console.log(describe(r));
    });
}

function describe(r: CompactReport): string {
  const bytes =
    r.bytesBefore === null || r.bytesAfter === null
      ? ''
      : `; ${r.bytesBefore} → ${r.bytesAfter} bytes`;
  return `${r.space}: ${r.branches} branches, ${r.snapshotsMade} snapshots made, ${r.snapshotsDropped} dropped${bytes}`;
}

const shortId = (space: string) => (space.length > 24 ? `${space.slice(0, 21)}…` : space);
