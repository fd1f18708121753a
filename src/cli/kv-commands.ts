import type { Command } from 'commander';
import type { Cairn } from '../app/create-cairn.js';
import { isCairnError } from '../core/errors.js';
import { isSpaceId } from '../core/ids.js';
import type { JsonValue } from '../core/json.js';
import { storeOptions, withStore, type StoreFlags } from './store.js';
import { UsageError } from './usage-error.js';

interface KvFlags extends StoreFlags {
  space: string;
  install: string;
  namespace: string;
}

interface KeyFlags extends KvFlags {
  key: string;
}

interface PutFlags extends KeyFlags {
  value: string;
  metadata?: string;
  ttl?: string;
  ifRevision?: string;
}

interface DeleteFlags extends KeyFlags {
  ifRevision?: string;
}

interface ListFlags extends KvFlags {
  prefix: string;
  limit?: string;
  values?: boolean;
}

/** `cairn.kv(space)` and a record as it answers one (cli/ sees the KV layer through app/ only). */
type KvSpace = ReturnType<Cairn['kv']>;
type KvRecordView = Awaited<ReturnType<KvSpace['get']>>;

/** Records per page while `list` follows cursors (the API's maximum). */
const PAGE = 100;
const EXAMPLE_SPACE = 'did:key:z6Mk…';
const AT = `--space ${EXAMPLE_SPACE} --install ext-1 --namespace settings`;

/**
 * `cairn kv get|put|list|delete` (SPEC §12): an operator's view of an
 * extension install's KV records, through `cairn.kv(space)` — the same
 * rules, limits and revisions as the HTTP routes. A mistake in the call, an
 * unknown space, and every refusal (`KeyNotFound`, `RevisionMismatch`,
 * `QuotaExceeded`, …) is one line naming it, exit 2.
 */
export function registerKvCommands(program: Command): void {
  const kv = program
    .command('kv')
    .description("read and write an extension install's KV records (docs/KV.md)");
  const command = (name: string, description: string, withKey: boolean) => {
    const c = kv
      .command(name)
      .description(description)
      .requiredOption('--space <did>', 'the space')
      .requiredOption('--install <id>', 'the extension install')
      .requiredOption('--namespace <name>', 'the namespace');
    if (withKey) c.requiredOption('--key <key>', 'the key');
    // A bad flag is one line (exit 2), as every other failure of the command.
    return c.showHelpAfterError(false);
  };

  storeOptions(command('get', 'print a record: value, metadata, revision, times', true))
    .addHelpText(
      'after',
      `\nExamples:\n  $ cairn kv get ${AT} --key theme\n  $ cairn kv get ${AT} --key theme --json\n\nA key with no live record is "cairn: KeyNotFound: …", exit 2.`,
    )
    .action(async (flags: KeyFlags) => {
      const record = await run(flags, (s) => s.get(flags.install, flags.namespace, flags.key));
      if (flags.json) return console.log(JSON.stringify(record));
      console.log(describeRecord(record));
    });

  storeOptions(
    command('put', 'create or update a record (revision + 1; optional TTL and condition)', true)
      .requiredOption('--value <json>', 'the value, as JSON (any JSON, null included)')
      .option('--metadata <json>', 'the metadata, a JSON object (default {})')
      .option('--ttl <seconds>', 'expire after this many seconds (60 s to 30 days)')
      .option('--if-revision <n>', 'only if the live record is at this revision'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  $ cairn kv put ${AT} --key theme --value '{"dark":true}'\n  $ cairn kv put ${AT} --key session --value '"abc"' --ttl 3600 --json\n  $ cairn kv put ${AT} --key theme --value '{"dark":false}' --if-revision 3\n\nA record not at --if-revision is "cairn: RevisionMismatch: …", exit 2.`,
    )
    .action(async (flags: PutFlags) => {
      const value = parseJson('--value', flags.value);
      const metadata =
        flags.metadata === undefined ? undefined : parseJson('--metadata', flags.metadata);
      if (
        metadata !== undefined &&
        (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
      ) {
        throw new UsageError('--metadata must be a JSON object');
      }
      const ttlSeconds = positive('--ttl', flags.ttl);
      const ifRevision = positive('--if-revision', flags.ifRevision);
      const done = await run(flags, (s) =>
        s.put(flags.install, flags.namespace, {
          key: flags.key,
          value,
          ...(metadata !== undefined ? { metadata: metadata as Record<string, JsonValue> } : {}),
          ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
          ...(ifRevision !== undefined ? { ifRevision } : {}),
        }),
      );
      const r = done.record;
      if (flags.json) return console.log(JSON.stringify({ created: done.created, ...r }));
      const expires = r.ttlExpiresAt === undefined ? '' : `, expires ${iso(r.ttlExpiresAt)}`;
      console.log(
        done.created
          ? `created ${r.key} at revision ${r.revision}${expires}`
          : `updated ${r.key} to revision ${r.revision}${expires}`,
      );
    });

  storeOptions(
    command('list', 'print the live records in key order (UTF-8 bytes), every page', false)
      .option('--prefix <text>', 'only keys that start with this (literally)', '')
      .option('--limit <n>', 'print at most this many records (default: all)')
      .option('--values', 'include values and metadata'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  $ cairn kv list ${AT}\n  $ cairn kv list ${AT} --prefix theme --values --json\n\nOne line per record: key, revision (and with --values, value and metadata as JSON),\ntab-separated. --json: {items, more}; more is true when --limit stopped it early.`,
    )
    .action(async (flags: ListFlags) => {
      const limit = positive('--limit', flags.limit) ?? Number.POSITIVE_INFINITY;
      const values = flags.values === true;
      const { items, more } = await run(flags, async (s) => {
        const out: KvRecordView[] = [];
        let cursor: string | undefined;
        do {
          const page = await s.list(flags.install, flags.namespace, {
            prefix: flags.prefix,
            limit: Math.min(PAGE, limit - out.length),
            values,
            metadata: values,
            ...(cursor !== undefined ? { cursor } : {}),
          });
          out.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor !== undefined && out.length < limit);
        return { items: out, more: cursor !== undefined };
      });
      if (flags.json) return console.log(JSON.stringify({ items, more }));
      for (const r of items) {
        const bodies = values ? `\t${JSON.stringify(r.value)}\t${JSON.stringify(r.metadata)}` : '';
        console.log(`${r.key}\trevision ${r.revision}${bodies}`);
      }
      if (more) console.error(`cairn: stopped at --limit ${limit}; there are more records`);
    });

  storeOptions(
    command('delete', 'delete a record (optionally only at a revision)', true).option(
      '--if-revision <n>',
      'only if the live record is at this revision',
    ),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  $ cairn kv delete ${AT} --key theme\n  $ cairn kv delete ${AT} --key theme --if-revision 3 --json\n\nDeleting a key with no record is not an error: "no record", {"deleted":false}.`,
    )
    .action(async (flags: DeleteFlags) => {
      const ifRevision = positive('--if-revision', flags.ifRevision);
      const deleted = await run(flags, (s) =>
        s.delete(flags.install, flags.namespace, flags.key, ifRevision),
      );
      if (flags.json) return console.log(JSON.stringify({ deleted }));
      console.log(deleted ? `deleted ${flags.key}` : `no record ${flags.key}: nothing deleted`);
    });
}

/**
 * Runs `fn` on the space's KV, in an opened store: an unknown space is a
 * usage error (the operator names existing data; nothing is created), and
 * so is every refusal, as "CODE: message".
 */
async function run<T>(flags: KvFlags, fn: (kv: KvSpace) => Promise<T>): Promise<T> {
  if (!isSpaceId(flags.space)) throw new UsageError(`--space "${flags.space}" is not a space DID`);
  return withStore(flags, async (cairn: Cairn) => {
    const lease = await cairn.backend.acquireSpace(flags.space, { create: false });
    if (!lease) throw new UsageError(`no space ${flags.space}`);
    lease.release();
    try {
      return await fn(cairn.kv(flags.space));
    } catch (err) {
      if (!isCairnError(err)) throw err;
      const current = err.details.currentRevision;
      const suffix = current === undefined ? '' : ` (current revision ${current})`;
      throw new UsageError(`${err.code}: ${err.message}${suffix}`);
    }
  });
}

function parseJson(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError(`${flag} is not JSON: ${(err as Error).message}`);
  }
}

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive integer`);
  }
  return n;
}

const iso = (ms: number) => new Date(ms).toISOString();

function describeRecord(r: KvRecordView): string {
  return [
    `key: ${r.key}`,
    `revision: ${r.revision}`,
    `value: ${JSON.stringify(r.value)}`,
    `metadata: ${JSON.stringify(r.metadata)}`,
    `created: ${iso(r.createdAt)}`,
    `updated: ${iso(r.updatedAt)}`,
    ...(r.ttlExpiresAt !== undefined ? [`expires: ${iso(r.ttlExpiresAt)}`] : []),
  ].join('\n');
}
