import fs from 'node:fs';
import type { Command } from 'commander';
import { progressBar } from './progress.js';
import { readInputFile } from './input-file.js';
import { UsageError } from './usage-error.js';
import { storeOptions, withStore, type StoreFlags } from './store.js';

interface ExportFlags extends StoreFlags {
  space: string;
  doc: string;
  branch: string;
  seq?: string;
  out: string;
}

interface ImportFlags extends StoreFlags {
  space: string;
  doc: string;
  branch: string;
  file: string;
}

/** `cairn snapshot export` and `cairn snapshot import` (SPEC §8). */
export function registerSnapshotCommands(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .description('a doc version as an Automerge file, out and in');
  storeOptions(
    snapshot
      .command('export')
      .description(
        'write a version of a doc (Automerge.save bytes, checked to load to its heads) to a file',
      )
      .requiredOption('--space <did>', 'the space')
      .requiredOption('--doc <docId>', 'the doc')
      .option('--branch <name>', 'the branch', 'main')
      .option('--seq <n>', 'the version: after that many changes (default: current)')
      .requiredOption('--out <file>', 'where to write the bytes'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn snapshot export --space did:key:z6Mk… --doc notes/1 --seq 40 --out notes.automerge',
    )
    .action(async (flags: ExportFlags) => {
      const seq = flags.seq === undefined ? undefined : Number(flags.seq);
      if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 1)) {
        throw new UsageError('--seq must be a positive integer');
      }
      const bar = progressBar('export', flags.json === true);
      await withStore(flags, async (cairn) => {
        const version =
          seq === undefined ? { kind: 'current' as const } : { kind: 'seq' as const, seq };
        bar?.update('building the version', 0, 2);
        const v = await cairn.read.docBytes(flags.space, flags.doc, flags.branch, version);
        bar?.update('writing the file', 1, 2);
        try {
          fs.writeFileSync(flags.out, v.bytes);
        } catch (err) {
          throw new UsageError(
            `cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? err}`,
          );
        }
        bar?.update('done', 2, 2);
        bar?.stop();
        const info = {
          file: flags.out,
          bytes: v.bytes.byteLength,
          seq: v.seq,
          epoch: v.epoch,
          heads: v.heads,
        };
        console.log(
          flags.json
            ? JSON.stringify(info)
            : `wrote ${info.bytes} bytes (seq ${v.seq}, epoch ${v.epoch}) to ${flags.out}`,
        );
      });
    });

  storeOptions(
    snapshot
      .command('import')
      .description(
        'commit the changes of an Automerge file into a doc branch (one merge transaction, verified as any write)',
      )
      .requiredOption('--space <did>', 'the space')
      .requiredOption('--doc <docId>', 'the doc')
      .option('--branch <name>', 'the branch', 'main')
      .requiredOption('--file <file>', 'Automerge.save() bytes'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn snapshot import --space did:key:z6Mk… --doc notes/1 --file notes.automerge',
    )
    .action(async (flags: ImportFlags) => {
      const bytes = readInputFile(flags.file);
      const bar = progressBar('import', flags.json === true);
      await withStore(flags, async (cairn) => {
        bar?.update('verifying and committing', 1, 2);
        const url = `http://cairn.cli/v1/${flags.space}/docs/${encodeURIComponent(flags.doc)}/import?branch=${encodeURIComponent(flags.branch)}`;
        const res = await cairn.fetch(new Request(url, { method: 'POST', body: bytes }));
        const answer = (await res.json()) as {
          ok: boolean;
          epoch?: number;
          error?: { code: string; message: string };
        };
        bar?.update('done', 2, 2);
        bar?.stop();
        if (!answer.ok) throw new UsageError(`${answer.error?.code}: ${answer.error?.message}`);
        console.log(
          flags.json
            ? JSON.stringify(answer)
            : `imported into ${flags.doc} (${flags.branch}) at epoch ${answer.epoch}`,
        );
      });
    });
}
