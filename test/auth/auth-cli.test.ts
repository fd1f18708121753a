import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/auth/authorizer.js';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { UcanVerifier } from '../../src/auth/ucan-verifier.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `cairn space create`, `cairn key create`, `cairn token` (SPEC §7) run as a
 * user runs them: keys kept in the data dir's keyring (mode 0600), tokens
 * minted or delegated, every mistake a one-line error with exit code 2.
 */

const SERVER_KEY = Buffer.alloc(32, 7).toString('base64url');
const serverDid = identityFromSeed(Buffer.from(SERVER_KEY, 'base64url')).did;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, env);

/** Runs `fn` with a fresh data dir, removed afterwards. */
function inTempDir(fn: (dir: string) => void): void {
  const { dir, cleanup } = makeTempDir();
  try {
    fn(dir);
  } finally {
    cleanup();
  }
}

function json<T>(out: { code: number | null; stdout: string; stderr: string }): T {
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as T;
}

describe('auth CLI', () => {
  it('space create keeps the key in a 0600 keyring and prints {did, keyFile}', () => {
    inTempDir((dir) => {
      const made = json<{ did: string; keyFile: string }>(
        cli(['space', 'create', '--data', dir, '--json']),
      );
      expect(made.did).toMatch(/^did:key:z6Mk/);
      expect(made.keyFile).toBe(path.join(dir, 'keyring.json'));
      expect(fs.statSync(made.keyFile).mode & 0o777).toBe(0o600);
      // A second space goes into the same keyring.
      const second = json<{ did: string }>(cli(['space', 'create', '--data', dir, '--json']));
      expect(second.did).not.toBe(made.did);
      expect(Object.keys(JSON.parse(fs.readFileSync(made.keyFile, 'utf8')).keys)).toHaveLength(2);
    });
  });

  it('token mints from the space key for the server DID, and delegates narrower with --from', () => {
    inTempDir((dir) => {
      const space = json<{ did: string }>(cli(['space', 'create', '--data', dir, '--json'])).did;
      const env = { CAIRN_SERVER_KEY: SERVER_KEY };
      const minted = json<{ token: string; audience: string; issuer: string }>(
        cli(
          [
            'token',
            '--data',
            dir,
            '--space',
            space,
            '--can',
            'storage/write',
            '--ttl',
            '10m',
            '--json',
          ],
          env,
        ),
      );
      expect(minted).toMatchObject({ audience: serverDid, issuer: space });
      const auth = new Authorizer('required', serverDid, new UcanVerifier());
      auth.require(auth.grant(minted.token), space, 'storage/write');
      // Plain output is the token alone (for $(…) in a shell).
      const plain = cli(['token', '--data', dir, '--space', space, '--can', 'storage/read'], env);
      expect(plain.stdout.split('.')).toHaveLength(3);

      const agent = json<{ did: string }>(cli(['key', 'create', '--data', dir, '--json'])).did;
      const toAgent = cli([
        'token',
        '--data',
        dir,
        '--space',
        space,
        '--can',
        'storage/write',
        '--audience',
        agent,
      ]).stdout;
      const delegated = json<{ token: string; issuer: string }>(
        cli(
          [
            'token',
            '--data',
            dir,
            '--space',
            space,
            '--can',
            'storage/read',
            '--from',
            toAgent,
            '--json',
          ],
          env,
        ),
      );
      expect(delegated.issuer).toBe(agent);
      const g = auth.grant(delegated.token);
      auth.require(g, space, 'storage/read');
      expect(() => auth.require(g, space, 'storage/write')).toThrow(/does not grant/);
      // Escalating from --from is refused before anything is signed.
      const up = cli(
        ['token', '--data', dir, '--space', space, '--can', 'storage/admin', '--from', toAgent],
        env,
      );
      expect(up.code).toBe(2);
      expect(up.stderr).toMatch(/^cairn: --from does not grant storage\/admin/);
    });
  });

  it('refuses bad input with one line and exit code 2', () => {
    inTempDir((dir) => {
      const space = json<{ did: string }>(cli(['space', 'create', '--data', dir, '--json'])).did;
      const cases: [string[], RegExp][] = [
        [
          [
            'token',
            '--data',
            dir,
            '--space',
            space,
            '--can',
            'storage/fly',
            '--audience',
            serverDid,
          ],
          /not an ability/,
        ],
        [
          [
            'token',
            '--data',
            dir,
            '--space',
            space,
            '--can',
            'storage/read',
            '--ttl',
            '5x',
            '--audience',
            serverDid,
          ],
          /not a duration/,
        ],
        [['token', '--data', dir, '--space', space, '--audience', serverDid], /at least one --can/],
        [
          [
            'token',
            '--data',
            dir,
            '--space',
            'did:key:z6MkNobody',
            '--can',
            'storage/read',
            '--audience',
            serverDid,
          ],
          /no key for space/,
        ],
        [['token', '--data', dir, '--space', space, '--can', 'storage/read'], /no server key yet/],
        [
          [
            'token',
            '--data',
            dir,
            '--space',
            space,
            '--can',
            'storage/read',
            '--from',
            'garbage',
            '--audience',
            serverDid,
          ],
          /invalid token/,
        ],
        [['token', '--data', dir, '--can', 'storage/read'], /--space/],
      ];
      for (const [args, message] of cases) {
        const out = cli(args);
        expect(out.code, args.join(' ')).toBe(2);
        expect(out.stderr, args.join(' ')).toMatch(message);
        expect(out.stderr).not.toMatch(/\n\s+at /);
      }
      fs.writeFileSync(path.join(dir, 'keyring.json'), 'not json');
      const broken = cli(['space', 'create', '--data', dir]);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/is not a cairn keyring/);
    });
  });

  it('serve refuses --auth off on a non-loopback host', () => {
    inTempDir((dir) => {
      const out = cli([
        'serve',
        '--auth',
        'off',
        '--host',
        '0.0.0.0',
        '--port',
        '0',
        '--data',
        dir,
      ]);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/--auth off is only allowed when listening on a loopback address/);
    });
  });
});
