import type { Scenario } from '../scenario.js';
import { kvScenario } from './kv/index.js';

/**
 * Every scenario `--scenario` accepts. A new one (doc edits, typists, hot
 * docs, point-in-time reads, Yjs…) is a module exporting a `Scenario`,
 * added here: it brings its own flags, setup, operations and targets.
 */
export const SCENARIOS: readonly Scenario[] = [kvScenario];
