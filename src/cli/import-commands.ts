import type { Command } from 'commander';
import {
  importLegacyStore,
  importYjsFile,
  openLegacySource,
  type LegacyImportReport,
  type LegacySource,
  type YjsImportResult,
} from '../app/yjs-import.js';
import { isCairnError } from '../core/errors.js';
import { isDocId, isSpaceId } from '../core/ids.js';
import { progressBar } from './progress.js';
import { storeOptions, withStore, type StoreFlags } from './store.js';
import { readInputFile } from './input-file.js';
import { UsageError } from './usage-error.js';

interface YjsFlags extends StoreFlags {
  space: string;
  doc: string;
  file: string;
}

interface HocuspocusFlags extends StoreFlags {
  space: string;
  db: string;
}

/** `cairn import yjs` and `cairn import hocuspocus`: moving Yjs docs in (SPEC §11). */
export function registerImportCommands(program: Command): void {
  const imports = program
    .command('import')
    .description('move Yjs documents in from another Yjs server (verified, idempotent)');
  storeOptions(
    imports
      .command('yjs')
      .description(
        'import a Yjs update/state file (one update, v1 encoding, e.g. Y.encodeStateAsUpdate) as a Yjs doc; verified against the file, marked as migrated',
      )
      .requiredOption('--space <did>', 'the space')
      .requiredOption('--doc <docId>', 'the Yjs doc')
      .requiredOption('--file <file>', 'the Yjs update')
      // A bad flag is one line (exit 2), as every other failure of the command.
      .showHelpAfterError(false),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn import yjs --space did:key:z6Mk… --doc notes/1 --file notes.yjs\n\nImporting the same file again commits nothing.',
    )
    .action(async (flags: YjsFlags) => {
      checkSpace(flags.space);
      if (!isDocId(flags.doc)) throw new UsageError(`--doc "${flags.doc}" is not a valid doc id`);
      const bytes = readInputFile(flags.file);
      const bar = progressBar('import', flags.json === true);
      bar?.update('verifying and committing', 0, 1);
      const out = await withStore(flags, (cairn) =>
        failuresAreErrors(() => importYjsFile(cairn, flags.space, flags.doc, flags.file, bytes)),
      ).finally(() => {
        bar?.update('done', 1, 1);
        bar?.stop();
      });
      console.log(flags.json ? JSON.stringify({ space: flags.space, ...out }) : describe(out));
    });

  storeOptions(
    imports
      .command('hocuspocus')
      .description(
        'import every document of a Hocuspocus SQLite database (table documents(name, data)), each as the Yjs doc of its name; the database is only read',
      )
      .requiredOption('--space <did>', 'the space the documents move into')
      .requiredOption('--db <file>', 'the Hocuspocus SQLite database')
      .showHelpAfterError(false),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn import hocuspocus --space did:key:z6Mk… --db ./hocuspocus.sqlite --json\n\nDocs that already have a migration marker are skipped; so are names that are not valid doc ids.',
    )
    .action(async (flags: HocuspocusFlags) => {
      checkSpace(flags.space);
      let source: LegacySource;
      try {
        source = openLegacySource(`hocuspocus:${flags.db}`);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const bar = progressBar('import', flags.json === true);
      let report: LegacyImportReport;
      try {
        report = await withStore(flags, (cairn) =>
          failuresAreErrors(() =>
            importLegacyStore(cairn, flags.space, source, (done, total) =>
              bar?.update('documents', done, total),
            ),
          ),
        );
      } finally {
        bar?.stop();
        await source.close();
      }
      if (flags.json) return console.log(JSON.stringify(report));
      const committed = report.imported.filter((r) => r.applied === 1).length;
      console.log(
        `imported ${report.imported.length} docs into ${report.space} from ${report.from} (${committed} committed), skipped ${report.skipped.length}`,
      );
      for (const s of report.skipped)
        console.log(`  skipped ${JSON.stringify(s.name)}: ${s.reason}`);
    });
}

function checkSpace(space: string): void {
  if (!isSpaceId(space)) throw new UsageError(`--space "${space}" is not a space DID`);
}

/**
 * Runs an import; a verification that failed (`Internal`) is an error of
 * the data, not of how the command was called: exit 1, not the usage
 * error `withStore` makes of other typed failures.
 */
async function failuresAreErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isCairnError(err) && err.code === 'Internal') throw new Error(err.message, { cause: err });
    throw err;
  }
}

function describe(r: YjsImportResult): string {
  return r.applied === 1
    ? `imported into ${r.docId} at epoch ${r.epoch} (verified: ${r.verified})`
    : `${r.docId} already holds everything in the file: nothing committed (verified: ${r.verified})`;
}
