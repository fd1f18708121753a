import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { identityFromSeed } from '../auth/server-identity.js';
import { CairnError } from '../core/errors.js';

/** The keyring's file in the data dir (mode 0600: only its owner may read the keys). */
export const KEYRING_FILE = 'keyring.json';

const keyringSchema = z.object({
  version: z.literal(1),
  keys: z.record(
    z.string(),
    z.object({
      seed: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      kind: z.enum(['space', 'agent']),
      createdAt: z.number(),
    }),
  ),
});

export type KeyKind = 'space' | 'agent';

/**
 * Ed25519 keys the CLI signs tokens with: a space's own key (its DID is the
 * space id, the root authority of SPEC §7) and agent keys that receive
 * delegated tokens. One JSON file, written whole through a temp file and a
 * rename (never half-written), readable by its owner only.
 */
export class Keyring {
  private constructor(
    readonly file: string,
    private readonly keys: z.infer<typeof keyringSchema>['keys'],
  ) {}

  static open(dataDir: string): Keyring {
    const file = path.join(path.resolve(dataDir), KEYRING_FILE);
    if (!fs.existsSync(file)) return new Keyring(file, {});
    let parsed;
    try {
      parsed = keyringSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) throw new CairnError('ValidationError', `${file} is not a cairn keyring`);
    return new Keyring(file, parsed.data.keys);
  }

  /** A new key of `kind`, saved; its DID. */
  create(kind: KeyKind): string {
    const seed = crypto.randomBytes(32);
    const did = identityFromSeed(seed).did;
    this.keys[did] = { seed: seed.toString('base64url'), kind, createdAt: Date.now() };
    this.save();
    return did;
  }

  /** The seed of a key held here, or undefined. */
  seedOf(did: string): Uint8Array | undefined {
    const key = this.keys[did];
    return key ? new Uint8Array(Buffer.from(key.seed, 'base64url')) : undefined;
  }

  list(): { did: string; kind: KeyKind; createdAt: number }[] {
    return Object.entries(this.keys).map(([did, k]) => ({
      did,
      kind: k.kind,
      createdAt: k.createdAt,
    }));
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ version: 1, keys: this.keys }, null, 2)}\n`, {
      mode: 0o600,
    });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, this.file);
  }
}
