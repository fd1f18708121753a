interface KeyInfo {
  /** The highest revision the server acknowledged for this key. */
  revision: number;
  /** Client-side expiry (Date.now() ms) when written with a TTL. */
  expiresAtMs: number | undefined;
  pos: number;
}

/** Keys within this margin of their TTL are treated as possibly expired. */
const EXPIRY_MARGIN_MS = 2_000;

/**
 * The keys of one namespace that the server acknowledged and that no delete
 * has been sent for: reads pick from them (so reads mostly find their key),
 * and a read's answer is checked against what was acknowledged before it
 * was sent. O(1) pick, add and remove.
 */
export class KeySet {
  private readonly keys: string[] = [];
  private readonly info = new Map<string, KeyInfo>();
  /** Keys a delete was sent for (a read racing it may find nothing). */
  private readonly gone = new Set<string>();
  /** Creates in flight (counted against the namespace's soft cap). */
  creating = 0;
  private next = 0;

  constructor(private readonly prefix: string) {}

  get size(): number {
    return this.keys.length;
  }

  /** Live keys plus creates in flight. */
  get projected(): number {
    return this.keys.length + this.creating;
  }

  /** A key never used in this namespace. */
  freshKey(): string {
    return `${this.prefix}${(this.next++).toString(36)}`;
  }

  pick(rand: () => number): string | undefined {
    return this.keys[Math.floor(rand() * this.keys.length)];
  }

  revisionOf(key: string): number {
    return this.info.get(key)?.revision ?? 0;
  }

  /** Acknowledged: sets (or raises) the key's revision and its expiry. */
  ack(key: string, revision: number, ttlSeconds: number | undefined): void {
    const expiresAtMs = ttlSeconds === undefined ? undefined : Date.now() + ttlSeconds * 1000;
    const known = this.info.get(key);
    if (known) {
      if (revision >= known.revision) {
        known.revision = revision;
        known.expiresAtMs = expiresAtMs;
      }
      return;
    }
    if (this.gone.has(key)) return;
    this.info.set(key, { revision, expiresAtMs, pos: this.keys.length });
    this.keys.push(key);
  }

  /** Stops tracking `key` (a delete is being sent); returns its revision. */
  remove(key: string): number {
    const known = this.info.get(key);
    if (!known) return 0;
    const last = this.keys.pop() as string;
    if (last !== key) {
      this.keys[known.pos] = last;
      (this.info.get(last) as KeyInfo).pos = known.pos;
    }
    this.info.delete(key);
    this.gone.add(key);
    return known.revision;
  }

  /** Tracks a key again after a conditional delete was refused. */
  restore(key: string, revision: number): void {
    this.gone.delete(key);
    this.ack(key, revision, undefined);
  }

  /** A delete was sent for `key` at some point. */
  wasDeleted(key: string): boolean {
    return this.gone.has(key);
  }

  /** The key had a TTL that may have run out by now. */
  mayHaveExpired(key: string): boolean {
    const at = this.info.get(key)?.expiresAtMs;
    return at !== undefined && Date.now() >= at - EXPIRY_MARGIN_MS;
  }
}
