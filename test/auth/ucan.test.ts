import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/auth/authorizer.js';
import type { Capability } from '../../src/auth/capabilities.js';
import { identityFromSeed } from '../../src/auth/server-identity.js';
import { mintUcan } from '../../src/auth/ucan-mint.js';
import { DEFAULT_UCAN_LIMITS, UcanVerifier } from '../../src/auth/ucan-verifier.js';
import { SeededRandom, testSeed } from '../helpers/seeded-random.js';

/**
 * UCAN verification (SPEC §7, docs/AUTH.md): real Ed25519 signatures over
 * did:key, times, audience, delegation chains that may only attenuate,
 * bounded depth and size, and a cache that never outlives a chain.
 */

const seed = (n: number) => new Uint8Array(32).fill(n);
const space = identityFromSeed(seed(1));
const otherSpace = identityFromSeed(seed(2));
const app = identityFromSeed(seed(3));
const device = identityFromSeed(seed(4));
const server = identityFromSeed(seed(9));

const cap = (can: Capability['can'], withDid = space.did, install?: string): Capability => ({
  with: withDid,
  can,
  ...(install ? { nb: { install } } : {}),
});

function rootToken(can: Capability['can'], audience = server.did, ttlSec = 3600): string {
  return mintUcan({ issuerSeed: seed(1), audience, capabilities: [cap(can)], ttlSec });
}

/** space → app → device → server, each link as given. */
function chain3(last: Capability[] = [cap('storage/read')], ttlSec = 600): string {
  const toApp = mintUcan({
    issuerSeed: seed(1),
    audience: app.did,
    capabilities: [cap('storage/write')],
    ttlSec: 3600,
  });
  const toDevice = mintUcan({
    issuerSeed: seed(3),
    audience: device.did,
    capabilities: [cap('storage/write')],
    ttlSec: 1800,
    proofs: [toApp],
  });
  return mintUcan({
    issuerSeed: seed(4),
    audience: server.did,
    capabilities: last,
    ttlSec,
    proofs: [toDevice],
  });
}

const authorizer = () => new Authorizer('required', server.did, new UcanVerifier());

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect((thrown as { code?: string })?.code, String(thrown)).toBe(code);
}

describe('UCAN verification', () => {
  it('accepts a token minted by the space key, and checks abilities against it', () => {
    const a = authorizer();
    const g = a.grant(rootToken('storage/write'));
    expect(g.did).toBe(space.did);
    a.require(g, space.did, 'storage/write');
    a.require(g, space.did, 'storage/read');
    expectCode(() => a.require(g, space.did, 'storage/admin'), 'Forbidden');
    expectCode(() => a.require(g, otherSpace.did, 'storage/read'), 'Forbidden');
    expectCode(() => a.require(g, space.did, 'kv/read'), 'Forbidden');
  });

  it('accepts a 3-link delegation chain that narrows, and grants only what the last link holds', () => {
    const a = authorizer();
    const g = a.grant(chain3());
    a.require(g, space.did, 'storage/read');
    expectCode(() => a.require(g, space.did, 'storage/write'), 'Forbidden');
  });

  it('refuses a missing token, garbage, and a wrong Authorization scheme', () => {
    const a = authorizer();
    expectCode(() => a.grant(undefined), 'Unauthorized');
    for (const junk of ['', 'abc', 'a.b.c', 'x'.repeat(100), '...', 'eyJ.eyJ.AAA']) {
      expectCode(() => a.grant(junk || undefined), 'Unauthorized');
    }
  });

  it('refuses expired and not-yet-valid tokens (beyond the clock skew)', () => {
    const a = authorizer();
    const past = Date.now() - 2 * 3600_000;
    const expired = mintUcan({
      issuerSeed: seed(1),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 60,
      nowMs: past,
    });
    expectCode(() => a.grant(expired), 'Unauthorized');
    const future = mintUcan({
      issuerSeed: seed(1),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 7200,
      notBefore: Math.floor(Date.now() / 1000) + 3600,
    });
    expectCode(() => a.grant(future), 'Unauthorized');
    // Within the skew: a token 30 s from its nbf is already good.
    const soon = mintUcan({
      issuerSeed: seed(1),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 7200,
      notBefore: Math.floor(Date.now() / 1000) + 30,
    });
    a.grant(soon);
  });

  it('refuses a token addressed to another server', () => {
    expectCode(() => authorizer().grant(rootToken('storage/read', app.did)), 'Unauthorized');
  });

  it('refuses a chain with a broken link: a proof addressed to someone else', () => {
    const toApp = mintUcan({
      issuerSeed: seed(1),
      audience: app.did,
      capabilities: [cap('storage/write')],
      ttlSec: 3600,
    });
    // The device uses a proof that was given to the app, not to it.
    const stolen = mintUcan({
      issuerSeed: seed(4),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 600,
      proofs: [toApp],
    });
    expectCode(() => authorizer().grant(stolen), 'Unauthorized');
  });

  it('refuses a chain that escalates the ability or widens the resource', () => {
    expectCode(() => authorizer().grant(chain3([cap('storage/admin')])), 'Unauthorized');
    expectCode(
      () => authorizer().grant(chain3([cap('storage/read', otherSpace.did)])),
      'Unauthorized',
    );
    expectCode(() => authorizer().grant(chain3([cap('kv/write')])), 'Unauthorized');
  });

  it('refuses a link that outlives its proof', () => {
    expectCode(() => authorizer().grant(chain3([cap('storage/read')], 7200)), 'Unauthorized');
  });

  it('narrows KV abilities by install: a token for one install grants nothing on another', () => {
    const a = authorizer();
    const toApp = mintUcan({
      issuerSeed: seed(1),
      audience: app.did,
      capabilities: [cap('kv/write', space.did, 'app-1')],
      ttlSec: 3600,
    });
    const g = a.grant(
      mintUcan({
        issuerSeed: seed(3),
        audience: server.did,
        capabilities: [cap('kv/read', space.did, 'app-1')],
        ttlSec: 600,
        proofs: [toApp],
      }),
    );
    a.require(g, space.did, 'kv/read', 'app-1');
    expectCode(() => a.require(g, space.did, 'kv/read', 'app-2'), 'Forbidden');
    expectCode(() => a.require(g, space.did, 'kv/write', 'app-1'), 'Forbidden');
    // Widening the install away is an escalation.
    const widened = mintUcan({
      issuerSeed: seed(3),
      audience: server.did,
      capabilities: [cap('kv/read')],
      ttlSec: 600,
      proofs: [toApp],
    });
    expectCode(() => authorizer().grant(widened), 'Unauthorized');
  });

  it('refuses a chain deeper than maxChainDepth (also when its proofs are cached) and a token over maxTokenBytes', () => {
    const limits = { ...DEFAULT_UCAN_LIMITS, maxChainDepth: 3 };
    const a = new Authorizer('required', server.did, new UcanVerifier(limits));
    a.grant(chain3()); // exactly 3 tokens (now cached: the depth still counts)
    const deeper = mintUcan({
      issuerSeed: seed(9),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 300,
      proofs: [chain3([cap('storage/read')], 600)],
    });
    expectCode(() => a.grant(deeper), 'Unauthorized');
    const small = new UcanVerifier({ ...DEFAULT_UCAN_LIMITS, maxTokenBytes: 200 });
    expectCode(() => new Authorizer('required', server.did, small).grant(chain3()), 'Unauthorized');
  });

  it('refuses flipped signature bytes and an edited payload', () => {
    const token = rootToken('storage/read');
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] as number) ^ 1;
    expectCode(() => authorizer().grant(`${h}.${p}.${sig.toString('base64url')}`), 'Unauthorized');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { att: Capability[] };
    payload.att = [cap('storage/admin')];
    const edited = Buffer.from(JSON.stringify(payload)).toString('base64url');
    expectCode(() => authorizer().grant(`${h}.${edited}.${s}`), 'Unauthorized');
  });

  it('caches verified chains by token hash, and never past their expiry', () => {
    let now = Date.now();
    const verifier = new UcanVerifier(DEFAULT_UCAN_LIMITS, () => now);
    const token = mintUcan({
      issuerSeed: seed(1),
      audience: server.did,
      capabilities: [cap('storage/read')],
      ttlSec: 120,
      nowMs: now,
    });
    verifier.verify(token);
    verifier.verify(token);
    expect(verifier.stats).toMatchObject({ verified: 1, cacheHits: 1 });
    now += (120 + DEFAULT_UCAN_LIMITS.clockSkewSec + 1) * 1000;
    expectCode(() => verifier.verify(token), 'Unauthorized');
  });

  const propertySeed = testSeed();
  it(`a mutated token is refused or verifies to the same grant, never crashes (seed ${propertySeed})`, () => {
    const rng = new SeededRandom(propertySeed);
    const token = chain3();
    const a = authorizer();
    const good = JSON.stringify(a.grant(token).caps);
    for (let i = 0; i < 2000; i++) {
      const chars = token.split('');
      const at = rng.int(chars.length);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
      chars[at] = alphabet[rng.int(alphabet.length)] as string;
      const mutated = chars.join('');
      try {
        const g = new Authorizer('required', server.did, new UcanVerifier()).grant(mutated);
        // base64url has slack bits in its last character: the same bytes may verify.
        expect(JSON.stringify(g.caps), `seed ${propertySeed}, mutation ${i}`).toBe(good);
      } catch (err) {
        expect((err as { code?: string }).code, `seed ${propertySeed}, mutation ${i}`).toBe(
          'Unauthorized',
        );
      }
    }
    expect(crypto.createHash('sha256').update(token).digest().length).toBe(32);
  });
});
