import type { Command } from 'commander';
import { Keyring } from '../app/keyring.js';
import { findServerDid, mintToken, parseDuration } from '../app/tokens.js';
import { CairnError } from '../core/errors.js';
import { UsageError } from './usage-error.js';

interface DataFlags {
  data?: string;
  json?: boolean;
}

interface TokenFlags extends DataFlags {
  space?: string;
  can: string[];
  ttl: string;
  audience?: string;
  from?: string;
  database?: string;
}

const dataDirOf = (flags: DataFlags) => flags.data ?? process.env.CAIRN_DATA ?? './data';

/** Runs `fn`; a CairnError (bad input, missing key) becomes a one-line usage error. */
async function cli<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CairnError) throw new UsageError(err.message);
    throw err;
  }
}

function print(json: boolean | undefined, value: Record<string, unknown>, text: string): void {
  console.log(json ? JSON.stringify(value) : text);
}

/** `cairn space create`, `cairn key create` and `cairn token` (SPEC §7). */
export function registerAuthCommands(program: Command): void {
  const space = program.command('space').description('spaces and their keys');
  space
    .command('create')
    .description(
      "make a space: a new Ed25519 key pair whose DID is the space id (its root authority), kept in the data dir's keyring (mode 0600)",
    )
    .option('--data <dir>', 'data directory (env CAIRN_DATA, default ./data)')
    .option('--json', 'print {did, keyFile} as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ cairn space create --json\n  {"did":"did:key:z6Mk…","keyFile":"data/keyring.json"}',
    )
    .action(async (flags: DataFlags) => {
      await cli(() => {
        const keyring = Keyring.open(dataDirOf(flags));
        const did = keyring.create('space');
        print(flags.json, { did, keyFile: keyring.file }, did);
        if (!flags.json) console.error(`cairn: the space key is kept in ${keyring.file}`);
      });
    });

  const key = program.command('key').description('agent keys that receive delegated tokens');
  key
    .command('create')
    .description(
      'make an agent key (e.g. for a device or an app) in the keyring; give its DID as --audience of a token, then delegate from that token with --from',
    )
    .option('--data <dir>', 'data directory (env CAIRN_DATA, default ./data)')
    .option('--json', 'print {did, keyFile} as JSON')
    .action(async (flags: DataFlags) => {
      await cli(() => {
        const keyring = Keyring.open(dataDirOf(flags));
        const did = keyring.create('agent');
        print(flags.json, { did, keyFile: keyring.file }, did);
      });
    });

  program
    .command('token')
    .description(
      'mint a UCAN from a space key, or delegate a narrower one from another token (docs/AUTH.md)',
    )
    .requiredOption('--space <did>', 'the space (its DID)')
    .option(
      '--can <ability>',
      'storage/read | storage/write | storage/admin | kv/read | kv/write (repeatable)',
      (v: string, all: string[]) => [...all, ...v.split(',')],
      [],
    )
    .option('--ttl <duration>', 'lifetime: 30s, 15m, 1h, 7d', '1h')
    .option('--audience <did>', "who uses the token (default: the server's DID, for requests)")
    .option('--from <token>', 'delegate from this token (its audience key must be in the keyring)')
    .option('--data <dir>', 'data directory (env CAIRN_DATA, default ./data)')
    .option(
      '--database <url>',
      'PostgreSQL URL, to find the server DID there (env CAIRN_DATABASE_URL)',
    )
    .option('--json', 'print {token, issuer, audience, capabilities, expiresAt} as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ cairn token --space did:key:z6Mk… --can storage/write --ttl 1h
  $ curl -H "Authorization: Bearer $(cairn token --space did:key:z6Mk… --can storage/read)" \\
      http://127.0.0.1:8787/v1/did:key:z6Mk…/docs
  $ cairn token --space did:key:z6Mk… --can storage/write --audience $(cairn key create) > app.ucan
  $ cairn token --space did:key:z6Mk… --can storage/read --from "$(cat app.ucan)" --ttl 15m`,
    )
    .action(async (flags: TokenFlags) => {
      await cli(async () => {
        const dataDir = dataDirOf(flags);
        const databaseUrl = flags.database ?? process.env.CAIRN_DATABASE_URL;
        const serverKey = process.env.CAIRN_SERVER_KEY;
        const audience =
          flags.audience ??
          (await findServerDid({
            dataDir,
            ...(databaseUrl ? { databaseUrl } : {}),
            ...(serverKey ? { serverKey } : {}),
          }));
        const minted = mintToken(Keyring.open(dataDir), {
          space: flags.space as string,
          can: flags.can,
          ttlSec: parseDuration(flags.ttl),
          audience,
          ...(flags.from ? { from: flags.from.trim() } : {}),
        });
        print(flags.json, { ...minted }, minted.token);
      });
    });
}
