import type { Logger } from '../core/logger.js';
import { stateOf } from '../crdt/yjs/yjs-update.js';
import type { OpenYjsDoc } from './open-doc.js';
import type { YjsCommitter } from './yjs-committer.js';

/** How often docs in relay mode try to write their state as a checkpoint. */
const RECOVERY_EVERY_MS = 1000;

/**
 * The docs in relay mode (SPEC §11 degraded relay: storage refused their
 * updates, which were relayed from memory) and their way back: every
 * second, each writes its whole in-memory state as one committed update
 * that is also a checkpoint. A doc whose updates were refused again while
 * that ran stays in relay mode for the next round.
 */
export class RelayRecovery {
  readonly stats = { recovered: 0 };
  private readonly docs = new Set<OpenYjsDoc>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly committer: YjsCommitter,
    private readonly logger: Logger,
    /** A doc left relay mode (the hub may unload it). */
    private readonly onRecovered: (doc: OpenYjsDoc) => void,
  ) {}

  get size(): number {
    return this.docs.size;
  }

  add(doc: OpenYjsDoc): void {
    this.docs.add(doc);
    this.timer ??= setInterval(() => void this.recover(), RECOVERY_EVERY_MS);
    this.timer.unref();
  }

  /** One round (never two at once: a slow commit must not make a second copy). */
  recover(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.recover();
  }

  private async round(): Promise<void> {
    for (const doc of [...this.docs]) {
      const refusals = doc.refusals;
      try {
        const { state, stateVector } = await doc.read((d) => stateOf(d));
        await this.committer.commit(doc.spaceId, {
          docId: doc.docId,
          update: state,
          stateWith: { state, stateVector },
        });
      } catch (err) {
        this.logger.debug({ err, docId: doc.docId }, 'relay-mode checkpoint not yet possible');
        return;
      }
      if (doc.refusals !== refusals) continue; // refused again meanwhile: next round
      doc.relayOnly = false;
      this.docs.delete(doc);
      this.stats.recovered++;
      this.onRecovered(doc);
    }
    if (this.docs.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
